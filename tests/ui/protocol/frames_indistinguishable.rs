asyncore_runtime::protocol! {
    mod mqtt {
        protocol mqtt
        framing length varint max 1KiB offset 1
        client Pub = 0b0011 flags:u4 payload:rest
        client PubQos0 = 0x30 payload:rest
    }
}

fn main() {}
