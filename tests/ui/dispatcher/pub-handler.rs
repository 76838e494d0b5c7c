use asyncore_runtime::{dispatcher, Channel, Result};

struct Echo;

#[dispatcher]
impl Echo {
    pub fn handle_read(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
