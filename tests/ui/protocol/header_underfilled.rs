asyncore_runtime::protocol! {
    mod tagged {
        protocol tagged
        framing length u16be max 1KiB offset 2
        client Get = 0x01
    }
}

fn main() {}
