asyncore_runtime::protocol! {
    mod lines {
        protocol lines
        framing line "\r\n" max 1KiB
        // `on_produce` is the generated server's call for the rest of a large reply.
        client Produce = "PRODUCE"
        server Done = "DONE"
    }
}

fn main() {}
