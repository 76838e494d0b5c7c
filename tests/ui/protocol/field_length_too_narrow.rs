asyncore_runtime::protocol! {
    mod cache {
        protocol cache
        framing line "\r\n" max 1KiB
        client Set = "set" key:word size:u8 then data:bytes[size] max 1KiB "\r\n"
    }
}

fn main() {}
