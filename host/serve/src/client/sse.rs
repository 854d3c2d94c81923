//! Server-Sent Events read from an answer's body, each bounded in size.

use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::ClientError;

/// Server-Sent Events as they arrive: `(event name, data)`.
pub struct EventStream {
    pub(super) body: Incoming,
    pub(super) buffer: Vec<u8>,
    /// How far the buffer is known to hold no event's end: each new frame
    /// is searched from there, not from the start (an event sent a byte at
    /// a time would cost a scan of everything before it per byte).
    pub(super) scanned: usize,
    pub(super) url: String,
}

/// The longest event kept while waiting for its end (a line without an
/// end is one too). The server's events carry names and messages, each
/// bounded (a message by the policy's 64 KiB), so a real one is far
/// smaller, even with every character escaped.
pub(crate) const MAX_EVENT: usize = 1 << 20;

impl EventStream {
    /// The next event, or `None` when the server ends the stream.
    pub async fn next(&mut self) -> Result<Option<(String, String)>, ClientError> {
        loop {
            if let Some(event) = self.take_event() {
                if event.0.is_empty() && event.1.is_empty() {
                    continue;
                }
                return Ok(Some(event));
            }
            if self.buffer.len() > MAX_EVENT {
                return Err(ClientError::TooLarge {
                    url: self.url.clone(),
                    what: "an event",
                    limit: MAX_EVENT,
                });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ClientError::Protocol {
                        url: self.url.clone(),
                        reason: e.to_string(),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// One complete event from the buffer (it ends at a blank line).
    fn take_event(&mut self) -> Option<(String, String)> {
        // The end may straddle the previous scan's last byte.
        let from = self.scanned.saturating_sub(1);
        let Some(found) = self.buffer[from..].windows(2).position(|w| w == b"\n\n") else {
            self.scanned = self.buffer.len();
            return None;
        };
        let end = from + found;
        let block = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 2);
        self.scanned = 0;
        let (mut name, mut data) = (String::new(), Vec::new());
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = value.trim_start().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
        }
        Some((name, data.join("\n")))
    }
}
