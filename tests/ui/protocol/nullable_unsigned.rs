asyncore_runtime::protocol! {
    mod pg {
        protocol pg
        framing length u32be max 1MiB offset 1 includes_length
        server DataRow = "D" value:bytes[u32be] nullable
    }
}

fn main() {}
