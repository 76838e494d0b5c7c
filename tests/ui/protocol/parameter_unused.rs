// `Body` takes a parameter `length` but reads its bytes to the end of the line instead.
asyncore_runtime::protocol! {
    mod upload {
        protocol upload
        framing line "\r\n" max 1KiB
        client Put = "PUT" name:word
        client Body(length) = data:rest
        state Ready initial { Put -> Ready | Loading  }
        state Loading { Body -> Ready }
    }
}

fn main() {}
