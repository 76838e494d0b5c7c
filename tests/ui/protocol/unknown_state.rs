asyncore_runtime::protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        client Bye = "BYE"
        state Start initial { Hello -> Greeted  Bye -> close }
        state Greeted { Bye -> Strat }
    }
}

fn main() {}
