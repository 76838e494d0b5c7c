asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Get = "get" keys:(key:word else reply "bad key" close)+
    }
}

fn main() {}
