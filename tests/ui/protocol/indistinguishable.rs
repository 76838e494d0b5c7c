asyncore_runtime::protocol! {
    mod cache {
        protocol cache
        framing line "\r\n" max 1KiB
        client Get = "get" key:word
        client Fetch = "get" name:word
    }
}

fn main() {}
