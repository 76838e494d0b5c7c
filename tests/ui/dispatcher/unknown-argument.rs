use asyncore_runtime::{dispatcher, Channel, Result};

struct Echo;

#[dispatcher(protcol = "echo.aproto")]
impl Echo {
    fn handle_read(&mut self, _ch: &mut Channel<'_>) -> Result {
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
