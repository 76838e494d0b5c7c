asyncore_runtime::protocol! {
    mod smtp {
        protocol smtp
        framing line "\r\n" max 1000
        client Ehlo = "EHLO" domain:rest replies Reply
        client StartTls = "STARTTLS" replies Reply
        client Quit = "QUIT" replies Reply
        server Reply = code:u16 ~ more:("-" | " ") ~ text:rest continues if more == "-"
        state Fresh initial { Ehlo -> Greeted  Quit -> close }
        state Greeted {
            Ehlo -> Greeted  Quit -> close
            StartTls -> Secure on Reply if code == 220 starttls | Greeted on Reply if code != 220
        }
        // Once TLS is on, `StartTls` is not allowed, and nothing else is.
        state Secure {
            StartTls -> Secure on Reply if code == 220 starttls | Secure on Reply if code != 220
        }
    }
}

fn main() {}
