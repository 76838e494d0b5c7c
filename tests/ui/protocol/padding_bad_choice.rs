asyncore_runtime::protocol! {
    mod lines {
        protocol lines
        framing line "\r\n" max 1KiB padding trim
        client Get = "get" key:word
    }
}

fn main() {}
