use asyncore_runtime::{dispatcher, Channel, Result};

struct Echo;

#[dispatcher]
impl Echo {
    fn handle_raed(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 512];
        let n = ch.recv(&mut buf)?;
        ch.send_buffered(&buf[..n])?;
        Ok(())
    }
}

fn main() {
    let _ = Echo;
}
