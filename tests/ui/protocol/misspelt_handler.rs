use asyncore_runtime::{dispatcher, protocol, Result};

protocol! {
    mod greeting {
        protocol greeting
        framing line "\r\n" max 1KiB
        client Hello = "HELLO" name:word
        server Reply = text:rest
    }
}

struct Greeter;

#[dispatcher(protocol = greeting, role = server)]
impl Greeter {
    fn on_helo(&mut self, cx: &mut greeting::ServerCx<'_, '_>, msg: greeting::Hello<'_>) -> Result {
        cx.send(greeting::Reply { text: msg.name })
    }
}

fn main() {}
