asyncore_runtime::protocol! {
    mod cache {
        protocol cache
        framing line "\r\n" max 1KiB
        client Set = "set" key:word size:usize then data:bytes[size] "\r\n"
    }
}

fn main() {}
