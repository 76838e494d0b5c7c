// `Body(length)` is read in state `Loading`, but `Put` leads there without a choice, so no
// handler ever supplies the length.
asyncore_runtime::protocol! {
    mod upload {
        protocol upload
        framing line "\r\n" max 1KiB
        client Put = "PUT" name:word
        client Body(length) = data:bytes[length] max 1KiB
        state Ready initial { Put -> Loading }
        state Loading { Body -> Ready }
    }
}

fn main() {}
