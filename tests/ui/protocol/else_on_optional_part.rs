asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing line "\r\n" max 1KiB
        client Get = "get" key:word flags:u32? else reply "bad flags" close
    }
}

fn main() {}
