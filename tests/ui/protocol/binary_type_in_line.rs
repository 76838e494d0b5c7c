asyncore_runtime::protocol! {
    mod lines {
        protocol lines
        framing line "\r\n" max 1KiB
        client Set = "SET" key:cstr
    }
}

fn main() {}
