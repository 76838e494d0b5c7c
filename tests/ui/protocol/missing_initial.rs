asyncore_runtime::protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        client Bye = "BYE"
        state Start { Hello -> Start  Bye -> close }
    }
}

fn main() {}
