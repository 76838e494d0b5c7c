asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Get = "get" n:u32 then keys: n * (key:quoted*) max 10
    }
}

fn main() {}
