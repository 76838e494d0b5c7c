use asyncore_runtime::{dispatcher, Channel, Dispatcher, Result};

struct Echo;

#[dispatcher]
impl Dispatcher for Echo {
    fn handle_read(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
