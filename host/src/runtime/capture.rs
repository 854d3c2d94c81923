//! Captured stdout and stderr: kept in memory up to a cap, the rest counted
//! and dropped, so a chatty or hostile guest cannot grow the host's memory or
//! the journal. Writes never fail, so the guest does not notice the cap.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// One captured stream; clones write to the same buffer.
#[derive(Clone)]
pub(crate) struct Capture {
    buffer: Arc<Mutex<Buffer>>,
}

struct Buffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Capture {
        Capture {
            buffer: Arc::new(Mutex::new(Buffer {
                bytes: Vec::new(),
                cap,
                dropped: 0,
            })),
        }
    }

    /// Takes what was captured since the last `take`, with a note of how much
    /// was dropped.
    pub(crate) fn take(&self) -> Vec<u8> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut bytes = std::mem::take(&mut buffer.bytes);
        if buffer.dropped > 0 {
            let note = format!(
                "\n[cairn: {} more bytes dropped; the cap is {} bytes]\n",
                buffer.dropped, buffer.cap
            );
            bytes.extend_from_slice(note.as_bytes());
            buffer.dropped = 0;
        }
        bytes
    }

    /// Appends a `log` line (`[level] message`) the same way, without
    /// copying more of the message than the cap can take.
    pub(crate) fn append_line(&self, level: &str, message: &str) {
        self.append(format!("[{level}] ").as_bytes());
        self.append(message.as_bytes());
        self.append(b"\n");
    }

    /// Appends what fits under the cap and counts the rest.
    pub(crate) fn append(&self, data: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = buffer.cap.saturating_sub(buffer.bytes.len());
        let kept = room.min(data.len());
        buffer.bytes.extend_from_slice(&data[..kept]);
        buffer.dropped += (data.len() - kept) as u64;
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_cap_and_says_what_it_dropped() {
        let capture = Capture::new(4);
        capture.append(b"abc");
        capture.append(b"defg");
        let taken = String::from_utf8(capture.take()).expect("utf8");
        assert!(
            taken.starts_with("abcd\n[cairn: 3 more bytes dropped"),
            "{taken}"
        );
        assert_eq!(capture.take(), b"");
    }
}
