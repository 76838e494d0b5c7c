asyncore_runtime::protocol! {
    mod frames {
        protocol frames
        framing length u16be max 1KiB offset 1 skip 0
        client Ping = 0x01
    }
}

fn main() {}
