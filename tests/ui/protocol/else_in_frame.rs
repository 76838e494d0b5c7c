asyncore_runtime::protocol! {
    mod kv {
        protocol kv
        framing length u32be max 1KiB
        client Get = 0x01 key:bytes[u16be] else close
    }
}

fn main() {}
