asyncore_runtime::protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        state Start initial { Hello -> Stuck }
        state Stuck { }
    }
}

fn main() {}
