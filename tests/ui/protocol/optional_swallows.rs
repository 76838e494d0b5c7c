asyncore_runtime::protocol! {
    mod nats {
        protocol nats
        framing line "\r\n" max 4KiB
        client Pub = "PUB" subject:word reply:word? bytes:u32
    }
}

fn main() {}
