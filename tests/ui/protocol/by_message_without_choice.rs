// `by message` says the message chooses among the next states, but there is only one.
asyncore_runtime::protocol! {
    mod upload {
        protocol upload
        framing line "\r\n" max 1KiB
        client Put = "PUT" name:word
        state Ready initial { Put -> Ready by message }
    }
}

fn main() {}
