use asyncore_runtime::{dispatcher, Channel};

struct WriteOnly;

#[dispatcher]
impl WriteOnly {
    fn readabel(&mut self, _ch: &Channel<'_>) -> bool {
        false
    }
}

fn main() {
    let _ = WriteOnly;
}
