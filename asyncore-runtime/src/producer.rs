//! Producers: output made on demand, asynchat's `more()` protocol.

/// A source of output produced on demand: asynchat's producer protocol (`more()`).
///
/// `more` is called when the channel can take more data; `None` (or an empty chunk)
/// means the producer is exhausted and is removed from the queue.
///
/// ```
/// use asyncore_runtime::Producer;
/// struct Countdown(u32);
/// impl Producer for Countdown {
///     fn more(&mut self) -> Option<Vec<u8>> {
///         if self.0 == 0 { return None; }
///         self.0 -= 1;
///         Some(format!("{}\n", self.0).into_bytes())
///     }
/// }
/// ```
pub trait Producer: 'static {
    /// The next chunk, or `None` when exhausted.
    fn more(&mut self) -> Option<Vec<u8>>;
}

/// asynchat's `simple_producer`: hands out `data` in chunks of `buffer_size` bytes.
///
/// ```
/// use asyncore_runtime::{Producer, SimpleProducer};
/// let mut p = SimpleProducer::new(b"0123456789".to_vec(), 4);
/// assert_eq!(p.more().unwrap(), b"0123");
/// assert_eq!(p.more().unwrap(), b"4567");
/// assert_eq!(p.more().unwrap(), b"89");
/// assert_eq!(p.more(), None);
/// ```
#[derive(Debug, Clone)]
pub struct SimpleProducer {
    data: Vec<u8>,
    pos: usize,
    buffer_size: usize,
}

impl SimpleProducer {
    /// A producer of `data` in chunks of `buffer_size` (at least 1) bytes. asynchat's
    /// default chunk is 512 bytes.
    ///
    /// ```
    /// let p = asyncore_runtime::SimpleProducer::new(vec![0; 2000], 512);
    /// # let _ = p;
    /// ```
    pub fn new(data: Vec<u8>, buffer_size: usize) -> Self {
        SimpleProducer {
            data,
            pos: 0,
            buffer_size: buffer_size.max(1),
        }
    }
}

impl Producer for SimpleProducer {
    fn more(&mut self) -> Option<Vec<u8>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let end = (self.pos + self.buffer_size).min(self.data.len());
        let chunk = self.data[self.pos..end].to_vec();
        self.pos = end;
        Some(chunk)
    }
}
