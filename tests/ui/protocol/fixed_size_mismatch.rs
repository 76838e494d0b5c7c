asyncore_runtime::protocol! {
    mod pg {
        protocol pg
        framing length u32be max 1MiB offset 1 includes_length
        framing answer = fixed 1
        server Refused framing answer = "NO"
    }
}

fn main() {}
