asyncore_runtime::protocol! {
    mod frames {
        protocol frames
        framing length u16be max 1MiB
        client Put = 0x01 value:rest
    }
}

fn main() {}
