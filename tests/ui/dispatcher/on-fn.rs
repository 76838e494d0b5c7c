use asyncore_runtime::{dispatcher, Channel, Result};

#[dispatcher]
fn handle_read(_ch: &mut Channel<'_>) -> Result {
    Ok(())
}

fn main() {}
