asyncore_runtime::protocol! {
    mod resp {
        protocol resp
        framing line "\r\n" max 1KiB
        client Command = "*" ~ argc:u32 else oversize reply "-ERR too long" close
    }
}

fn main() {}
