use asyncore_runtime::{dispatcher, Channel, Dispatcher, Result};

#[dispatcher]
struct Echo {
    echoed: usize,
}

impl Dispatcher for Echo {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 512];
        let n = ch.recv(&mut buf)?;
        self.echoed += n;
        Ok(())
    }
}

fn main() {
    let _ = Echo { echoed: 0 };
}
