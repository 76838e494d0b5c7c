asyncore_runtime::protocol! {
    mod smtp {
        protocol smtp
        framing line "\r\n" max 1000
        client Ehlo = "EHLO" domain:rest replies Reply
        client StartTls = "STARTTLS" replies Reply
        client Quit = "QUIT" replies Reply
        server Reply = code:u16 ~ more:("-" | " ") ~ text:rest continues if more == "-"
        // The handler chooses `Greeted` or `Limited`: the client cannot tell which, but
        // only one of them starts TLS on `220`.
        state Fresh initial { Ehlo -> Greeted | Limited  Quit -> close }
        state Greeted {
            Ehlo -> Greeted | Limited  Quit -> close
            StartTls -> Fresh on Reply if code == 220 starttls | Greeted on Reply if code != 220
        }
        state Limited {
            Ehlo -> Greeted | Limited  Quit -> close
            StartTls -> Limited on Reply
        }
    }
}

fn main() {}
