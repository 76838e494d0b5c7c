asyncore_runtime::protocol! {
    mod mqtt {
        protocol mqtt
        framing length varint max 1KiB offset 1
        client Pub = 0x30 topic:bytes[u16be] id:u16be if topic
    }
}

fn main() {}
