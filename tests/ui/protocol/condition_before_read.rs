asyncore_runtime::protocol! {
    mod mqtt {
        protocol mqtt
        framing length varint max 1KiB offset 1
        client Pub = 0b0011 dup:u1 qos:u2 retain:u1 id:u16be if level > 0 level:u8
    }
}

fn main() {}
