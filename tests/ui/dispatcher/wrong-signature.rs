// A handler with the wrong parameter type: rustc's own error, at the parameter.
use asyncore_runtime::{dispatcher, Channel, Result};

struct Echo;

#[dispatcher]
impl Echo {
    fn handle_read(&mut self, ch: &Channel<'_>) -> Result {
        let _ = ch.connected();
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
