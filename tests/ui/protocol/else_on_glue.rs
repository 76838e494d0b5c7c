asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Set = "set" ~ else close n:u32
    }
}

fn main() {}
