asyncore_runtime::protocol! {
    mod cache {
        protocol cache
        framing line "\r\n" max 1KiB
        client Set = "set" key:word then data:bytes[size] max 1MiB "\r\n"
    }
}

fn main() {}
