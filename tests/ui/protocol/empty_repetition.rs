asyncore_runtime::protocol! {
    mod list {
        protocol list
        framing line "\n" max 1KiB
        client Items = "items" entries:(note:rest)+
    }
}

fn main() {}
