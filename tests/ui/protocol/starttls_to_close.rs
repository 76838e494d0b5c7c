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
            StartTls -> close on Reply if code == 220 starttls | Greeted on Reply if code != 220
        }
    }
}

fn main() {}
