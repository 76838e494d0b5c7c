asyncore_runtime::protocol! {
    mod pop3 {
        protocol pop3
        framing line "\r\n" max 512
        client Pass = "PASS" password:rest
        client Retr = "RETR" msg:u32 replies Listing | Err
        client Quit = "QUIT" replies Ok
        server Ok = "+OK" ows text:rest
        server Err = "-ERR" ows text:rest
        server Listing = "+OK" ows text:rest then body:lines until "." max 1MiB
        state Authorization initial { Pass -> Transaction on Ok | Authorization on Err  Quit -> close }
        state Transaction { Retr -> Transaction  Quit -> close }
    }
}

fn main() {}
