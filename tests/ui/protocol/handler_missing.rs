use asyncore_runtime::{dispatcher, protocol, Result};

protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        client Bye = "BYE"
        server Reply = text:rest
        state Start initial { Hello -> Start  Bye -> close }
    }
}

struct Greeter;

#[dispatcher(protocol = greeting, role = server)]
impl Greeter {
    fn on_hello(&mut self, cx: &mut greeting::ServerCx<'_, '_>, msg: greeting::Hello<'_>) -> Result {
        cx.send(greeting::Reply { text: msg.name })
    }
}

fn main() {}
