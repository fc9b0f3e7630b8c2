//! Delivering one request: encode, compress, send, and act on the answer
//! ([`disposition`]).
//!
//! | answer | action |
//! | --- | --- |
//! | 2xx | acknowledge `Delivered` (OTLP partial success counted and logged: the receiver does not say which records it rejected, so none can be resent or dead-lettered) |
//! | connect error, timeout, broken connection, 408, 429, and the sink's retryable statuses | wait (backoff with full jitter, or `Retry-After`) and send again, without limit |
//! | 401, 403 | hold: the credentials were refused, not the data. Wait (backoff), read the bearer token file again, send again, without limit; the sink's requests stay in flight, so its input waits |
//! | 413 | split the request in two and deliver each half; a single event too large is dead-lettered |
//! | any other status | write the events to the dead-letter file, acknowledge `Rejected` |
//!
//! Which other statuses are retryable is the protocol's: OTLP/HTTP retries
//! 502, 503 and 504 and refuses to retry any other (a 500 is dead-lettered),
//! remote write retries every 5xx.
//!
//! Nothing is given up while the agent runs; only the shutdown deadline
//! (`hard_stop`) abandons a request, whose acknowledgements then resolve as
//! dropped so that the source reads the data again after the restart.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::Full;
use tokio_util::sync::CancellationToken;

use super::auth::RequestHeaders;
use super::batch::Pending;
use super::compression::Codec;
use super::dead_letter::DeadLetter;
use super::http::{HttpClient, Response, timed};
use super::retry::RetryConfig;
use crate::error::Chain;
use crate::event::{AckStatus, Event, EventBatch};
use crate::sync::lock;
use crate::telemetry::events::{
    BearerTokenReloaded, ComponentError, ErrorStage, SinkAuthAccepted, SinkAuthFailed,
    SinkDeadLettered, SinkDelivered, SinkEventsDropped, SinkPartialSuccess, SinkRequestCompleted,
    SinkRequestFailed, SinkRequestSplit, SinkRetrying, SinkTelemetry,
};

/// The largest scratch buffer a worker thread keeps between requests
/// (requests are cut at `max_bytes`, 1 MiB by default).
const SCRATCH_KEEP_BYTES: usize = 4 * 1024 * 1024;

thread_local! {
    /// The buffer the next request is encoded into, per worker thread.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Keep `buf` as this thread's scratch buffer, unless it grew too big.
fn keep_scratch(buf: Vec<u8>) {
    if buf.capacity() <= SCRATCH_KEEP_BYTES {
        SCRATCH.set(buf);
    }
}

/// Take a sent body's buffer back as scratch, if nothing else holds it
/// any more (the HTTP client has let go of it once the answer came).
fn reclaim(body: Bytes) {
    if let Ok(buf) = body.try_into_mut() {
        keep_scratch(buf.into());
    }
}

/// Where a sink sends an input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight into a request (logs: their files are their buffer).
    Direct,
    /// Through the disk queue (what the agent generates itself).
    Queue,
    /// Not shipped by this sink, by design (a check result whose metrics
    /// arrive as metric events); acknowledged silently.
    Ignore,
    /// Not shippable by this sink (a log to remote write); counted as
    /// dropped.
    Unsupported,
}

/// What a shipping sink's protocol contributes to delivery.
pub trait Protocol: Send + Sync + 'static {
    /// Which endpoint a request goes to (OTLP: logs or metrics).
    type Signal: Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static;

    /// Where `event` goes.
    fn route(&self, event: &Event) -> Route;

    /// The endpoint of [`Route::Direct`] events.
    fn direct_signal(&self) -> Self::Signal;

    /// Encode queued events as disk-queue records.
    fn queue_encode(&self, events: &[&Event]) -> Vec<Vec<u8>>;

    /// Decode a disk-queue record: its endpoint and events, `None` for a
    /// record this sink does not send.
    #[allow(clippy::type_complexity, reason = "a pair, named by the docs")]
    fn queue_decode(&self, record: &[u8]) -> Result<Option<(Self::Signal, Vec<Event>)>, String>;

    /// Whether `event` belongs in a request for `signal`.
    fn selects(&self, signal: Self::Signal, event: &Event) -> bool;

    /// Encode the selected events of `batches` for `signal` into `out`;
    /// returns how many were encoded.
    fn encode(&self, signal: Self::Signal, batches: &[EventBatch], out: &mut Vec<u8>) -> usize;

    /// The URI of `signal`'s endpoint.
    fn uri(&self, signal: Self::Signal) -> &Uri;

    /// Protocol headers (content type, versions).
    fn headers(&self, headers: &mut HeaderMap);

    /// Whether an error status other than 401, 403, 408, 413 and 429
    /// (which [`disposition`] decides for every protocol) is worth
    /// retrying; the others are dead-lettered.
    fn retryable(&self, status: StatusCode) -> bool;

    /// Items the receiver reported as rejected in a 2xx answer, with its
    /// message.
    fn partial_success(&self, _signal: Self::Signal, _body: &[u8]) -> Option<(u64, String)> {
        None
    }
}

/// Everything a delivery needs, shared by the sink's request tasks.
pub struct Service<P: Protocol> {
    /// The protocol.
    pub protocol: P,
    /// The HTTP client.
    pub client: HttpClient,
    /// Auth and tenant headers.
    pub headers: Mutex<RequestHeaders>,
    /// Body compression.
    pub codec: Codec,
    /// Retry settings.
    pub retry: RetryConfig,
    /// Where refused events go.
    pub dead_letter: Mutex<DeadLetter>,
    /// Self-metrics.
    pub telemetry: SinkTelemetry,
    /// Cancelled at the shutdown deadline.
    pub hard_stop: CancellationToken,
}

/// What an HTTP status asks of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// 2xx: delivered.
    Delivered,
    /// The receiver or the path to it is busy or down: send again after a
    /// backoff.
    Retry,
    /// 401, 403: the receiver refused the credentials, which is the
    /// operator's to fix, not the data's fault. Hold the request and send
    /// it again after a backoff with the bearer token file read again.
    Hold,
    /// 413: split the request in two.
    Split,
    /// Refused for good: write the events to the dead-letter file.
    DeadLetter,
}

/// What one attempt came to.
enum Outcome {
    Final(Answer),
    /// Worth another attempt: why, and the server's `Retry-After`.
    Retry(String, Option<Duration>),
    /// The credentials were refused: the status and the receiver's answer.
    Unauthorized(u16, String),
}

/// An answer that ends the attempts at a request.
enum Answer {
    Delivered,
    TooLarge,
    Rejected(u16, String),
}

// === impl Service ===

impl<P: Protocol> Service<P> {
    /// Deliver `pending` to `signal`'s endpoint, resolving every batch.
    pub async fn deliver(self: Arc<Self>, signal: P::Signal, pending: Pending) {
        // Halves of split requests wait here, first half on top.
        let mut work = vec![pending.batches];
        while let Some(batches) = work.pop() {
            // The encoders compute exact sizes and reserve once, into this
            // thread's scratch buffer: a fresh one per request was
            // allocated and faulted in every time. An uncompressed body is
            // the buffer itself, taken back once sent (`reclaim`).
            let compressed = self.codec != Codec::Identity;
            let mut raw = SCRATCH.take();
            raw.clear();
            let events = self.protocol.encode(signal, &batches, &mut raw);
            if events == 0 {
                keep_scratch(raw);
                resolve(batches, AckStatus::Delivered);
                continue;
            }
            let uncompressed = raw.len();
            let body = if compressed {
                let body = self.codec.compress(&raw);
                keep_scratch(raw);
                body
            } else {
                Ok(raw)
            };
            let body = match body {
                Ok(body) => Bytes::from(body),
                Err(error) => {
                    ComponentError {
                        component: self.telemetry.component(),
                        error_type: "compression_failed",
                        stage: ErrorStage::Processing,
                        error: Chain(&error),
                    }
                    .emit();
                    self.dead_letter(signal, &batches, 0, "compression failed");
                    resolve(batches, AckStatus::Rejected);
                    continue;
                }
            };
            let answer = self.send_until_answered(signal, &body).await;
            let sent = body.len();
            if !compressed {
                reclaim(body);
            }
            match answer {
                None => return, // hard stop: the batches drop unresolved
                Some(Answer::Delivered) => {
                    SinkDelivered {
                        sink: &self.telemetry,
                        events,
                        bytes: sent,
                        uncompressed_bytes: uncompressed,
                    }
                    .emit();
                    resolve(batches, AckStatus::Delivered);
                }
                Some(Answer::TooLarge) if events > 1 => {
                    SinkRequestSplit {
                        sink: &self.telemetry,
                        events,
                        bytes: sent,
                    }
                    .emit();
                    let (head, tail) = split(batches);
                    work.push(tail);
                    work.push(head);
                }
                Some(Answer::TooLarge) => {
                    self.dead_letter(
                        signal,
                        &batches,
                        413,
                        "a single event exceeds the receiver's request size limit",
                    );
                    resolve(batches, AckStatus::Rejected);
                }
                Some(Answer::Rejected(status, message)) => {
                    self.dead_letter(signal, &batches, status, &message);
                    resolve(batches, AckStatus::Rejected);
                }
            }
        }
    }

    /// Send until an answer that is not worth retrying; `None` on hard stop.
    async fn send_until_answered(&self, signal: P::Signal, body: &Bytes) -> Option<Answer> {
        let mut backoff = self.retry.backoff();
        // After a refusal of the credentials, the token file is read again
        // even if it looks unchanged.
        let mut refused = false;
        loop {
            let outcome = tokio::select! {
                outcome = self.attempt(signal, body, refused) => outcome,
                () = self.hard_stop.cancelled() => return None,
            };
            refused = false;
            let delay = match outcome {
                Outcome::Final(answer) => return Some(answer),
                Outcome::Retry(reason, after) => {
                    let delay = backoff.next_delay(after);
                    SinkRetrying {
                        sink: &self.telemetry,
                        reason: &reason,
                        attempt: backoff.attempts(),
                        delay,
                    }
                    .emit();
                    delay
                }
                Outcome::Unauthorized(status, message) => {
                    // A `Retry-After` is not honoured here: what ends the
                    // hold is a new token, and the backoff's cap bounds how
                    // long until it is tried.
                    let delay = backoff.next_delay(None);
                    SinkAuthFailed {
                        sink: &self.telemetry,
                        status,
                        message: &message,
                        delay,
                    }
                    .emit();
                    refused = true;
                    delay
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.hard_stop.cancelled() => return None,
            }
        }
    }

    async fn attempt(&self, signal: P::Signal, body: &Bytes, reload_token: bool) -> Outcome {
        let request = match self.request(signal, body.clone(), reload_token) {
            Ok(request) => request,
            Err(error) => return Outcome::Final(Answer::Rejected(0, error.to_string())),
        };
        let (result, elapsed) = timed(self.client.send(request)).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let error_type = error.error_type();
                SinkRequestFailed {
                    sink: &self.telemetry,
                    error_type,
                    error: Chain(&error),
                    elapsed,
                }
                .emit();
                return Outcome::Retry(error_type.to_owned(), None);
            }
        };
        SinkRequestCompleted {
            sink: &self.telemetry,
            status: response.status.as_u16(),
            elapsed,
        }
        .emit();
        self.classify(signal, &response)
    }

    fn classify(&self, signal: P::Signal, response: &Response) -> Outcome {
        let status = response.status;
        match disposition(&self.protocol, status) {
            Disposition::Delivered => {
                SinkAuthAccepted {
                    sink: &self.telemetry,
                }
                .emit();
                if let Some((rejected, message)) =
                    self.protocol.partial_success(signal, &response.body)
                {
                    SinkPartialSuccess {
                        sink: &self.telemetry,
                        rejected,
                        message: &message,
                    }
                    .emit();
                }
                Outcome::Final(Answer::Delivered)
            }
            Disposition::Retry => {
                Outcome::Retry(status.as_u16().to_string(), response.retry_after())
            }
            Disposition::Hold => Outcome::Unauthorized(status.as_u16(), response.message()),
            Disposition::Split => Outcome::Final(Answer::TooLarge),
            Disposition::DeadLetter => {
                Outcome::Final(Answer::Rejected(status.as_u16(), response.message()))
            }
        }
    }

    fn request(
        &self,
        signal: P::Signal,
        body: Bytes,
        reload_token: bool,
    ) -> Result<Request<Full<Bytes>>, http::Error> {
        let mut request = Request::post(self.protocol.uri(signal).clone()).body(Full::new(body))?;
        let headers = request.headers_mut();
        self.protocol.headers(headers);
        if let Some(encoding) = self.codec.content_encoding() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        let mut auth = lock(&self.headers);
        let refreshed = if reload_token {
            auth.reload()
        } else {
            auth.refresh()
        };
        auth.apply(headers);
        drop(auth);
        match refreshed {
            Ok(true) => BearerTokenReloaded {
                sink: &self.telemetry,
            }
            .emit(),
            Ok(false) => {}
            Err(error) => ComponentError {
                component: self.telemetry.component(),
                error_type: "bearer_token_unreadable",
                stage: ErrorStage::Sending,
                error: Chain(&error),
            }
            .emit(),
        }
        Ok(request)
    }

    fn dead_letter(&self, signal: P::Signal, batches: &[EventBatch], status: u16, message: &str) {
        let mut dead = lock(&self.dead_letter);
        let events = batches
            .iter()
            .flat_map(EventBatch::events)
            .filter(|e| self.protocol.selects(signal, e));
        let written = dead.write(status, message, events);
        if written.events > 0 {
            SinkDeadLettered {
                sink: &self.telemetry,
                events: written.events,
                status,
                message,
                path: dead.path(),
            }
            .emit();
        }
        for (events, reason) in [
            (written.dropped, "dead_letter_full"),
            (written.failed, "dead_letter_write_failed"),
            (written.rotated_away, "dead_letter_rotated"),
        ] {
            if events > 0 {
                SinkEventsDropped {
                    sink: &self.telemetry,
                    events: events as u64,
                    reason,
                }
                .emit();
            }
        }
        if let Some(error) = &written.error {
            ComponentError {
                component: self.telemetry.component(),
                error_type: "dead_letter_write_failed",
                stage: ErrorStage::Sending,
                error: Chain(error),
            }
            .emit();
        }
    }
}

/// What `status` asks of a sender speaking `protocol`. The rules every
/// protocol shares come first; the protocol decides which other errors are
/// retryable.
pub fn disposition<P: Protocol>(protocol: &P, status: StatusCode) -> Disposition {
    match status {
        s if s.is_success() => Disposition::Delivered,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Disposition::Hold,
        StatusCode::PAYLOAD_TOO_LARGE => Disposition::Split,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Disposition::Retry,
        s if protocol.retryable(s) => Disposition::Retry,
        _ => Disposition::DeadLetter,
    }
}

fn resolve(batches: Vec<EventBatch>, status: AckStatus) {
    for batch in batches {
        batch.resolve(status);
    }
}

/// Split a request's batches in two halves by events.
fn split(mut batches: Vec<EventBatch>) -> (Vec<EventBatch>, Vec<EventBatch>) {
    if batches.len() > 1 {
        let tail = batches.split_off(batches.len() / 2);
        return (batches, tail);
    }
    match batches.pop() {
        Some(batch) => {
            let half = batch.len() / 2;
            let (head, tail) = batch.split_at(half);
            (vec![head], vec![tail])
        }
        None => (Vec::new(), Vec::new()),
    }
}
