asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Get = "get" key:quoted
    }
}

fn main() {}
