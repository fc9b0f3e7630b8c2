//! Bounded capture of a plugin's stderr.
//!
//! Unlike wasmtime's `MemoryOutputPipe`, which fails writes once full (and
//! makes a guest's `eprintln!` panic), the capture accepts every write and
//! keeps the first and the last half of its capacity: the start of the
//! output and, where a panic message lands, the end.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A bounded in-memory sink for one run's stderr. Clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    inner: Arc<Mutex<Buffer>>,
}

#[derive(Debug)]
struct Buffer {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

// === impl Capture ===

impl Capture {
    /// A capture keeping at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Buffer {
                half: capacity / 2,
                head: Vec::new(),
                tail: VecDeque::new(),
                dropped: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // The buffer holds plain bytes: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        crate::sync::lock(&self.inner)
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.lock();
        let room = buf.half.saturating_sub(buf.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        buf.head.extend_from_slice(to_head);
        buf.tail.extend(rest);
        let over = buf.tail.len().saturating_sub(buf.half);
        buf.tail.drain(..over);
        buf.dropped += over as u64;
    }

    /// What was kept, as text, with a marker where bytes were dropped.
    pub(crate) fn contents(&self) -> String {
        let buf = self.lock();
        let mut out = String::from_utf8_lossy(&buf.head).into_owned();
        if buf.dropped > 0 {
            out.push_str(&format!("\n[... {} bytes dropped ...]\n", buf.dropped));
        }
        let (a, b) = buf.tail.as_slices();
        out.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        out
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: excess is dropped, never refused.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_capacity() {
        let c = Capture::new(16);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.contents(), "hello world");
    }

    #[test]
    fn keeps_head_and_tail_over_capacity() {
        let c = Capture::new(8);
        c.push(b"abcd");
        for _ in 0..100 {
            c.push(b"-");
        }
        c.push(b"wxyz");
        assert_eq!(c.contents(), "abcd\n[... 100 bytes dropped ...]\nwxyz");
    }
}
