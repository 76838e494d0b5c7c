use asyncore_runtime::{dispatcher, protocol, Result};

protocol! {
    mod login {
        protocol login
        framing line "\r\n" max 1KiB
        client Login = "LOGIN" user:word
        client Quit = "QUIT"
        server Reply = text:rest
        state Anonymous initial { Login -> Ready | Anonymous  Quit -> close }
        state Ready { Login -> Ready | Anonymous  Quit -> Closing }
        state Closing { Quit -> close }
    }
}

struct Server;

#[dispatcher(protocol = login, role = server)]
impl Server {
    fn on_login(&mut self, _cx: &mut login::ServerCx<'_, '_>, _msg: login::Login<'_>) -> Result<login::LoginNext> {
        // `Closing` is a state, but not one `Login` may lead to.
        Ok(login::LoginNext::Closing)
    }
    fn on_quit(&mut self, _cx: &mut login::ServerCx<'_, '_>, _msg: login::Quit) -> Result {
        Ok(())
    }
}

fn main() {}
