asyncore_runtime::protocol! {
    mod mqtt {
        protocol mqtt
        framing length varint max 1KiB offset 1
        client Ping = 0xc0
        client Sub = 0x82 qos:u2
    }
}

fn main() {}
