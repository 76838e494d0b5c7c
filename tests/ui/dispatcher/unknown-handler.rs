// Nothing is close to `handle_request`: the message lists the handlers. Every unknown
// handler of the block is reported, not just the first.
use asyncore_runtime::{dispatcher, Channel, Result};

struct Server;

#[dispatcher]
impl Server {
    fn handle_request(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }

    fn handle_conect(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }
}

fn main() {
    let _ = Server;
}
