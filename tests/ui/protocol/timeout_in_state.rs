asyncore_runtime::protocol! {
    mod lines {
        protocol lines
        framing line "\r\n" max 1KiB
        client Ping = "PING"
        server Pong = "PONG"
        state Ready initial { Ping -> Ready } on timeout reply "ERR slow" close
    }
}

fn main() {}
