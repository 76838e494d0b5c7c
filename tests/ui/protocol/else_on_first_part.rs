asyncore_runtime::protocol! {
    mod resp {
        protocol resp
        framing line "\r\n" max 1KiB
        client Command = "*" else reply "-ERR expected '*'" close ~ argc:u32
    }
}

fn main() {}
