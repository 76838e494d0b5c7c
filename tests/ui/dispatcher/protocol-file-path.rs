use asyncore_runtime::{dispatcher, Channel, Result};

struct Echo;

#[dispatcher(protocol = "echo.aproto", role = server)]
impl Echo {
    fn handle_read(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
