asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Set = "set" n:u32 else reply "bad number" close else close
    }
}

fn main() {}
