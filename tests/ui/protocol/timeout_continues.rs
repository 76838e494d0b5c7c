asyncore_runtime::protocol! {
    mod lines {
        protocol lines
        framing line "\r\n" max 1KiB
        on timeout reply "ERR slow" continue
        client Ping = "PING"
        server Pong = "PONG"
    }
}

fn main() {}
