asyncore_runtime::protocol! {
    mod pg {
        protocol pg
        framing length u32be max 1MiB offset 1 includes_length
        framing startup = length u32be max 10000 includes_header
        client Startup framing statrup = 0x00030000
    }
}

fn main() {}
