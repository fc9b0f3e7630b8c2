//! What the agent and a plugin worker say to each other over their
//! socketpair: typed messages, each one frame of a 4-byte big-endian length
//! and that many bytes of JSON, except a batch and its outcome (a
//! processor's every round trip, hundreds of kilobytes of records): those
//! are a tag byte JSON never starts with, then `postcard`, which copies a
//! string as its bytes where JSON scans each one for escapes.
//!
//! The worker is untrusted once it runs guest code, so the agent's reader
//! treats every frame as hostile: a length over [`MAX_FRAME_BYTES`], a frame
//! cut short or bytes that are not a message are errors (the worker is then
//! killed and restarted), never a panic or an allocation the length asked
//! for before the bytes arrived.
//!
//! A conversation: the agent sends [`ToWorker::Load`]; the worker loads,
//! confines itself and answers [`FromWorker::Loaded`] (or
//! [`FromWorker::LoadFailed`]). Then, for a check, the agent sends
//! [`ToWorker::Run`] for each run and the worker answers [`FromWorker::Ran`];
//! for a log processor, [`ToWorker::Process`] for each batch, answered by
//! [`FromWorker::Processed`]. Meanwhile the worker may send
//! [`FromWorker::Log`] lines and [`FromWorker::StateWrite`]s, each of which
//! the agent answers with [`ToWorker::StateWritten`] before the plugin is
//! told its write succeeded. Closing the socket ends the worker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::wasm::{
    ColumnBatch, Grants, Limits, Outcome, OutputBound, PluginInfo, ProcessFailure, RunReport,
};

/// Largest frame either side accepts, in bytes. A run's result is capped
/// far below this by `max_output_bytes`; a plugin's state by
/// `max_state_bytes`.
pub(crate) const MAX_FRAME_BYTES: u32 = 64 << 20;

/// The most a frame's reader sets aside before its bytes arrive.
const RESERVED_FRAME_BYTES: usize = 1 << 20;

/// First byte of a frame holding a [`ProcessRequest`] in `postcard`.
const TAG_PROCESS: u8 = 0x01;
/// First byte of a frame holding a [`FromWorker::Processed`] outcome in
/// `postcard`.
const TAG_PROCESSED: u8 = 0x02;

/// Agent to worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ToWorker {
    /// Load the plugin, then confine yourself. Sent once, first.
    Load(Box<LoadRequest>),
    /// Run the check once with this configuration (JSON).
    Run {
        /// The check's `config:` as JSON.
        config_json: String,
    },
    /// Process one batch of log records (a processor's worker). Sent by
    /// [`encode_process`], in `postcard`, without copying the batch.
    Process(Box<ProcessRequest>),
    /// The answer to the last [`FromWorker::StateWrite`]: persisted, or why
    /// not.
    StateWritten(Result<(), String>),
}

/// A batch for a processor, with what it may return.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessRequest {
    /// The transform's `config:` as JSON.
    pub(crate) config_json: String,
    /// The records, by column.
    pub(crate) batch: ColumnBatch,
    /// How much may come back.
    pub(crate) bound: OutputBound,
}

/// A [`ProcessRequest`] as the agent writes it, borrowing the batch: the
/// same fields in the same order, so the same `postcard` bytes.
#[derive(Debug, Serialize)]
struct ProcessRef<'a> {
    config_json: &'a str,
    batch: &'a ColumnBatch,
    bound: OutputBound,
}

/// The world of the plugin a worker loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum World {
    /// A check (`run`).
    Check,
    /// A log processor (`process`).
    Processor,
}

/// Everything the worker needs, sent before it confines itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadRequest {
    /// The check's or transform's name.
    pub(crate) name: String,
    /// What the plugin is.
    pub(crate) world: World,
    /// The component.
    pub(crate) source: WorkerSource,
    /// The plugin's limits.
    pub(crate) limits: Limits,
    /// What it may touch.
    pub(crate) grants: Grants,
    /// The plugin's state as the agent has it.
    pub(crate) state: BTreeMap<String, Vec<u8>>,
    /// The plugin host's settings.
    pub(crate) host: HostConfig,
    /// How to confine the worker.
    pub(crate) confinement: ConfinementRequest,
    /// The agent's log level: the worker forwards lines up to it.
    pub(crate) log_level: LogLevel,
}

/// Where the worker finds the component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum WorkerSource {
    /// A `.wasm` file, optionally pinned by sha256.
    File {
        /// The file.
        path: PathBuf,
        /// The pin.
        sha256: Option<String>,
    },
    /// A first-party plugin built into the agent (and so into the worker,
    /// the same executable), by its name.
    Embedded {
        /// Its name, for example `cert-expiry`.
        name: String,
    },
}

/// The subset of [`HostSettings`](crate::wasm::HostSettings) a worker's
/// host takes from the agent's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostConfig {
    /// The compiled-artifact cache, if on.
    pub(crate) cache_dir: Option<PathBuf>,
    /// The state directory (not written by a worker; the host wants one).
    pub(crate) state_dir: PathBuf,
    /// The mount table `fs-stats` reads.
    pub(crate) mounts_file: PathBuf,
    /// Fuel metering on.
    pub(crate) fuel_enabled: bool,
    /// Grace after a deadline for a guest blocked in a host call.
    pub(crate) deadline_grace: Duration,
    /// Time to read and compile the component.
    pub(crate) load_timeout: Duration,
}

/// Who the worker becomes and what it may spend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfinementRequest {
    /// The user to switch to when started as root.
    pub(crate) user: String,
    /// The group to switch to when started as root.
    pub(crate) group: String,
    /// CPU seconds the worker may use over its life (`RLIMIT_CPU`).
    pub(crate) cpu_secs: u64,
}

/// Worker to agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FromWorker {
    /// The plugin is loaded and the worker confined.
    Loaded {
        /// What the plugin is.
        info: Box<PluginInfo>,
        /// What the confinement did.
        confinement: Confinement,
    },
    /// The plugin could not be loaded, or the worker could not confine
    /// itself: the whole error chain.
    LoadFailed {
        /// What went wrong.
        message: String,
    },
    /// A run's report.
    Ran(Box<RunReport>),
    /// A batch's outcome: the records to keep, checked by the worker
    /// against the batch (and again by the agent), or why there are none.
    Processed(Box<Result<Outcome, ProcessFailure>>),
    /// A log line of the worker (the plugin's own lines carry `plugin`).
    Log(LogLine),
    /// A state change to persist before the plugin is told it succeeded;
    /// `value` `None` deletes.
    StateWrite {
        /// The key.
        key: String,
        /// The new value, or `None` for a delete.
        value: Option<Vec<u8>>,
    },
}

/// What the worker's confinement did, for `/status` and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confinement {
    /// How the worker's user was chosen.
    pub identity: String,
    /// User id the worker runs as.
    pub uid: u32,
    /// Group id the worker runs as.
    pub gid: u32,
    /// `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// The seccomp filter is installed.
    pub seccomp: bool,
    /// Resource limits set, as `NAME=value`.
    pub rlimits: Vec<String>,
}

/// A log line forwarded from the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogLine {
    /// Its level.
    pub(crate) level: LogLevel,
    /// The check's name for a plugin's own line.
    pub(crate) plugin: Option<String>,
    /// The message and the other fields, `key=value`.
    pub(crate) message: String,
}

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The socket failed, or closed in the middle of a frame.
    #[error("the plugin worker socket failed")]
    Io(#[from] std::io::Error),
    /// The length prefix is over the cap.
    #[error("a frame of {len} bytes is over the limit of {MAX_FRAME_BYTES} bytes")]
    TooLarge {
        /// The length it claimed.
        len: u64,
    },
    /// The bytes are not a message.
    #[error("a frame is not a valid message")]
    Decode(#[source] serde_json::Error),
    /// The bytes after a batch frame's tag are not what the tag says.
    #[error("a batch frame is not a valid message")]
    Binary(#[source] postcard::Error),
    /// A tag this side does not receive.
    #[error("a frame starts with byte {0:#04x}, which is no message this side receives")]
    UnknownTag(u8),
}

/// A message one side reads: JSON, or, for a batch and its outcome, a tag
/// and `postcard`.
pub(crate) trait Message: DeserializeOwned {
    /// The message a frame starting with `tag` holds in `bytes`.
    fn from_tagged(tag: u8, bytes: &[u8]) -> Result<Self, FrameError>;
}

impl Message for ToWorker {
    fn from_tagged(tag: u8, bytes: &[u8]) -> Result<Self, FrameError> {
        match tag {
            TAG_PROCESS => postcard::from_bytes(bytes)
                .map(|request| ToWorker::Process(Box::new(request)))
                .map_err(FrameError::Binary),
            _ => Err(FrameError::UnknownTag(tag)),
        }
    }
}

impl Message for FromWorker {
    fn from_tagged(tag: u8, bytes: &[u8]) -> Result<Self, FrameError> {
        match tag {
            TAG_PROCESSED => postcard::from_bytes(bytes)
                .map(|outcome| FromWorker::Processed(Box::new(outcome)))
                .map_err(FrameError::Binary),
            _ => Err(FrameError::UnknownTag(tag)),
        }
    }
}

/// Writes `message` as one frame.
pub(crate) async fn write<W, T>(writer: &mut W, message: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    write_frame(writer, &encode(message)?).await
}

/// Writes a frame [`encode`] made.
pub(crate) async fn write_frame<W>(writer: &mut W, frame: &[u8]) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
{
    writer.write_all(frame).await?;
    writer.flush().await?;
    Ok(())
}

/// Encodes `message` as one frame: length, then JSON. A batch and its
/// outcome go by [`encode_process`] and [`encode_processed`].
pub(crate) fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let mut frame = vec![0; 4];
    serde_json::to_writer(&mut frame, message).map_err(FrameError::Decode)?;
    finish(frame)
}

/// Encodes [`ToWorker::Process`] for `batch`: length, tag, `postcard`.
pub(crate) fn encode_process(
    config_json: &str,
    batch: &ColumnBatch,
    bound: OutputBound,
) -> Result<Vec<u8>, FrameError> {
    let request = ProcessRef {
        config_json,
        batch,
        bound,
    };
    let mut frame = Vec::with_capacity(encoded_size_hint(config_json, batch));
    frame.extend_from_slice(&[0, 0, 0, 0, TAG_PROCESS]);
    let frame = postcard::to_extend(&request, frame).map_err(FrameError::Binary)?;
    finish(frame)
}

/// About the size of a batch's frame, a little over: its strings, its
/// lists at their largest encoding (a varint is at most 5 bytes for a
/// `u32`, 10 for a `u64`), and the lengths of each. Written into a vector
/// of that size, the frame is never moved while it grows.
fn encoded_size_hint(config_json: &str, batch: &ColumnBatch) -> usize {
    let strings = config_json.len()
        + batch.bodies.len()
        + batch.severity_texts.len()
        + batch.attribute_keys.len()
        + batch.attribute_strings.len();
    let u32s = batch.resource_of.len()
        + batch.shared_of.len()
        + batch.severity_text_ends.len()
        + batch.body_ends.len()
        + batch.attribute_key_ends.len()
        + batch.attribute_string_ends.len()
        + batch.attribute_ends.len();
    let u64s = batch.timestamps.len() + batch.attribute_numbers.len();
    let bytes = batch.severity_numbers.len() + batch.attribute_kinds.len();
    // Resources and shared attribute sets are few and small; 4 KiB covers
    // them and the fixed fields, or the vector grows once.
    5 + strings + 5 * u32s + 10 * u64s + bytes + 4096
}

/// Encodes [`FromWorker::Processed`]: length, tag, `postcard`.
pub(crate) fn encode_processed(
    outcome: &Result<Outcome, ProcessFailure>,
) -> Result<Vec<u8>, FrameError> {
    let frame = postcard::to_extend(outcome, vec![0, 0, 0, 0, TAG_PROCESSED])
        .map_err(FrameError::Binary)?;
    finish(frame)
}

/// Writes the length of the frame after its first 4 bytes into them.
fn finish(mut frame: Vec<u8>) -> Result<Vec<u8>, FrameError> {
    let len = frame.len() as u64 - 4;
    let len32 = u32::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_FRAME_BYTES)
        .ok_or(FrameError::TooLarge { len })?;
    frame[..4].copy_from_slice(&len32.to_be_bytes());
    Ok(frame)
}

/// Reads one frame. `Ok(None)` is a clean end: the peer closed the socket
/// between frames.
pub(crate) async fn read<R, T>(reader: &mut R) -> Result<Option<T>, FrameError>
where
    R: AsyncRead + Unpin,
    T: Message,
{
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match reader.read(&mut header[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(header);
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
        });
    }
    // Room for the claimed length up to a bound, read in as few calls as
    // the socket allows; past the bound grown as bytes arrive, so a peer
    // that claims more than it sends costs no more than the bound.
    let mut body = Vec::with_capacity((len as usize).min(RESERVED_FRAME_BYTES));
    let read = reader.take(u64::from(len)).read_to_end(&mut body).await?;
    if read < len as usize {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    match body.split_first() {
        Some((&tag, rest)) if tag == TAG_PROCESS || tag == TAG_PROCESSED => {
            T::from_tagged(tag, rest).map(Some)
        }
        _ => serde_json::from_slice(&body)
            .map(Some)
            .map_err(FrameError::Decode),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wasm::{CheckResult, RunOutcome, Status};

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(future)
    }

    fn decode_all(mut bytes: &[u8]) -> Result<Vec<FromWorker>, FrameError> {
        block_on(async {
            let mut messages = Vec::new();
            while let Some(message) = read(&mut bytes).await? {
                messages.push(message);
            }
            Ok(messages)
        })
    }

    fn report() -> FromWorker {
        FromWorker::Ran(Box::new(RunReport {
            outcome: RunOutcome::Ok(CheckResult {
                status: Status::Warning,
                summary: "3 of 4 \u{1F600}".into(),
                metrics: Vec::new(),
                details: Vec::new(),
            }),
            duration: Duration::from_micros(1500),
            stderr: "line\n".into(),
            log_lines: 2,
            logs_dropped: 0,
            host_calls: 7,
            fuel_consumed: Some(9),
            peak_memory_bytes: 1 << 20,
        }))
    }

    #[test]
    fn messages_round_trip_in_order() {
        let messages = [
            report(),
            FromWorker::StateWrite {
                key: "k".into(),
                value: Some(vec![0, 255]),
            },
            FromWorker::Log(LogLine {
                level: LogLevel::Warn,
                plugin: Some("c".into()),
                message: "hi".into(),
            }),
        ];
        let mut bytes = Vec::new();
        for message in &messages {
            bytes.extend(encode(message).unwrap());
        }
        let decoded = decode_all(&bytes).unwrap();
        assert_eq!(
            format!("{decoded:?}"),
            format!("{:?}", messages.to_vec()),
            "same messages, same order"
        );
    }

    #[test]
    fn a_load_request_keeps_every_limit_and_grant() {
        let limits = Limits {
            timeout_ms: 1234,
            memory_bytes: 5 << 20,
            max_open_handles: 7,
            ..Limits::default()
        };
        let grants = Grants {
            directories: vec!["/var/backups".into()],
            tls_targets: vec!["example.com:443".into()],
            ..Grants::default()
        };
        let request = ToWorker::Load(Box::new(LoadRequest {
            name: "backups".into(),
            world: World::Check,
            source: WorkerSource::File {
                path: "/plugins/b.wasm".into(),
                sha256: Some("ab".repeat(32)),
            },
            limits: limits.clone(),
            grants: grants.clone(),
            state: BTreeMap::from([("k".to_owned(), vec![1, 2, 3])]),
            host: HostConfig {
                cache_dir: Some("/cache".into()),
                state_dir: "/state".into(),
                mounts_file: "/proc/self/mounts".into(),
                fuel_enabled: true,
                deadline_grace: Duration::from_millis(1500),
                load_timeout: Duration::from_secs(60),
            },
            confinement: ConfinementRequest {
                user: "nobody".into(),
                group: "nogroup".into(),
                cpu_secs: 60,
            },
            log_level: LogLevel::Debug,
        }));
        let frame = encode(&request).unwrap();
        let decoded: ToWorker = block_on(read(&mut &frame[..])).unwrap().unwrap();
        let ToWorker::Load(decoded) = decoded else {
            panic!("a load request, got {decoded:?}")
        };
        assert_eq!(decoded.limits, limits);
        assert_eq!(decoded.grants, grants);
        assert_eq!(decoded.state["k"], vec![1, 2, 3]);
        assert_eq!(decoded.host.deadline_grace, Duration::from_millis(1500));
        assert_eq!(
            format!("{:?}", decoded.source),
            format!(
                "{:?}",
                WorkerSource::File {
                    path: "/plugins/b.wasm".into(),
                    sha256: Some("ab".repeat(32)),
                }
            )
        );
    }

    fn batch() -> ColumnBatch {
        use crate::wasm::{Attribute, Batch, LogRecord, Resource, Value};
        let attribute = |key: &str, value| Attribute {
            key: key.into(),
            value,
        };
        crate::wasm::columns::to_columns(&Batch {
            resources: vec![Resource {
                attributes: vec![attribute("host.name", Value::String("n1".into()))],
            }],
            shared_attributes: vec![vec![attribute("log.file.path", Value::String("/a".into()))]],
            records: vec![LogRecord {
                origin: 0,
                timestamp: 1_700_000_000_000_000_001,
                severity_number: 9,
                severity_text: "INFO".into(),
                body: "quote \" tab \t nul \0 \u{1F600}".into(),
                attributes: vec![
                    attribute("i", Value::Int(i64::MIN)),
                    attribute("f", Value::Float(-0.5)),
                    attribute("b", Value::Boolean(true)),
                ],
                shared_attributes: 0,
                resource: 0,
            }],
        })
    }

    #[test]
    fn a_batch_sent_borrowed_is_read_as_the_request_it_stands_for() {
        let batch = batch();
        let bound = OutputBound {
            max_records_per_input: 3,
            max_bytes_per_input: 5,
        };
        let frame = encode_process(r#"{"mode":"identity"}"#, &batch, bound).unwrap();
        let decoded: ToWorker = block_on(read(&mut &frame[..])).unwrap().unwrap();
        let ToWorker::Process(request) = decoded else {
            panic!("a process request, got {decoded:?}")
        };
        assert_eq!(request.config_json, r#"{"mode":"identity"}"#);
        assert_eq!(request.bound, bound);
        assert_eq!(format!("{:?}", request.batch), format!("{batch:?}"));
    }

    #[test]
    fn a_batch_outcome_comes_back_whole() {
        use crate::wasm::{FailureReason, ProcessFailureReason, ProcessedRecord};
        let changed = ProcessedRecord {
            origin: 7,
            timestamp: 3,
            severity_number: 17,
            severity_text: None,
            body: Some("changed \u{0}".into()),
            attributes: Some(Vec::new()),
        };
        let kept = FromWorker::Processed(Box::new(Ok(Outcome::Records(vec![changed.clone()]))));
        let verdicts = FromWorker::Processed(Box::new(Ok(Outcome::Verdicts {
            verdicts: vec![0, 1, 2],
            changed: vec![changed],
        })));
        let failed = FromWorker::Processed(Box::new(Err(ProcessFailure {
            reason: ProcessFailureReason::Sandbox(FailureReason::MemoryExceeded),
            message: "over 32 MiB".into(),
        })));
        let mut bytes = Vec::new();
        for outcome in [&kept, &verdicts, &failed] {
            let FromWorker::Processed(outcome) = outcome else {
                unreachable!("both are outcomes")
            };
            bytes.extend(encode_processed(outcome).unwrap());
        }
        bytes.extend(
            encode(&FromWorker::StateWrite {
                key: "after".into(),
                value: None,
            })
            .unwrap(),
        );
        let decoded = decode_all(&bytes).unwrap();
        assert_eq!(decoded.len(), 4, "{decoded:?}");
        assert_eq!(
            format!("{:?}", &decoded[..3]),
            format!("{:?}", [kept, verdicts, failed])
        );
    }

    #[test]
    fn a_length_over_the_cap_is_refused_before_reading_the_body() {
        let mut bytes = (MAX_FRAME_BYTES + 1).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        match decode_all(&bytes) {
            Err(FrameError::TooLarge { len }) => assert_eq!(len, u64::from(MAX_FRAME_BYTES) + 1),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_an_end() {
        let frame = encode(&report()).unwrap();
        for cut in 1..frame.len() {
            match decode_all(&frame[..cut]) {
                Err(FrameError::Io(error)) => {
                    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "cut {cut}");
                }
                other => panic!("cut at {cut}: expected UnexpectedEof, got {other:?}"),
            }
        }
        assert!(
            decode_all(&[]).unwrap().is_empty(),
            "no bytes is a clean end"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_decode_to_messages_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Never panics, never allocates what a forged length claims.
            let _ = decode_all(&bytes);
        }

        #[test]
        fn a_valid_stream_cut_anywhere_is_an_error_unless_cut_between_frames(
            keys in proptest::collection::vec("[a-z]{0,8}", 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = Vec::new();
            let mut ends = vec![0];
            for key in &keys {
                bytes.extend(encode(&FromWorker::StateWrite { key: key.clone(), value: None }).unwrap());
                ends.push(bytes.len());
            }
            let cut = cut.index(bytes.len() + 1);
            let result = decode_all(&bytes[..cut]);
            match ends.iter().position(|end| *end == cut) {
                Some(frames) => prop_assert_eq!(result.unwrap().len(), frames),
                None => prop_assert!(result.is_err()),
            }
        }

        #[test]
        fn a_valid_header_with_garbage_is_a_decode_error(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let result = decode_all(&bytes);
            // Random bytes are almost never a message; when they are, they
            // must decode to exactly one.
            match result {
                Ok(messages) => prop_assert_eq!(messages.len(), 1),
                Err(error) => prop_assert!(
                    matches!(error, FrameError::Decode(_) | FrameError::Binary(_) | FrameError::UnknownTag(_)),
                    "{error:?}"
                ),
            }
        }
    }
}
