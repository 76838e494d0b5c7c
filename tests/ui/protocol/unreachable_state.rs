asyncore_runtime::protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        client Bye = "BYE"
        state Start initial { Hello -> Start  Bye -> close }
        state Orphan { Bye -> close }
    }
}

fn main() {}
