//! The `file` sink: events as JSON lines in a local file, rotated by size.
//!
//! When the file would grow past `max_bytes` it is renamed to `<path>.1`
//! (older rotations shift to `.2`, `.3`, ... up to `max_files`) and a new
//! file is started. A batch is acknowledged once it is written to the file
//! (and fsynced, with `fsync: true`).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt as _;

use super::encoding::lines::{LineWriter, write_batches};
use crate::config::{ConfigError, FieldPath, Validate};
use crate::topology::{BoxedComponent, BuildError, SinkContext};

/// Configuration of the `file` sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The file to write. Its directory must exist.
    pub path: PathBuf,
    /// Rotate when the file would grow past this size, in bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files to keep (`path.1` ... `path.N`); older ones are
    /// deleted. 0 keeps none: the file is truncated instead.
    #[serde(default = "default_max_files")]
    pub max_files: u32,
    /// fsync after each batch before acknowledging it. Slower; survives a
    /// machine crash, not only an agent crash.
    #[serde(default)]
    pub fsync: bool,
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_max_files() -> u32 {
    5
}

impl Validate for FileSinkConfig {
    fn validate(&self, path: &FieldPath, errors: &mut Vec<ConfigError>) {
        if self.path.as_os_str().is_empty() {
            errors.push(
                path.field("path")
                    .error("must not be empty: expected a file path"),
            );
        }
        if self.max_bytes < 4096 {
            errors.push(path.field("max_bytes").error("must be at least 4096"));
        }
    }
}

/// Build the sink: opens (or creates) the file.
pub fn build(config: &FileSinkConfig, cx: SinkContext) -> Result<BoxedComponent, BuildError> {
    let std_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config.path)
        .map_err(|e| BuildError::caused(format!("cannot open {}", config.path.display()), e))?;
    let size = std_file.metadata().map(|m| m.len()).unwrap_or(0);
    let writer = Writer {
        config: config.clone(),
        file: File::from_std(std_file),
        size,
    };
    Ok(Box::pin(run(writer, cx)))
}

struct Writer {
    config: FileSinkConfig,
    file: File,
    size: u64,
}

async fn run(mut writer: Writer, mut cx: SinkContext) {
    write_batches(&mut cx, &mut writer).await;
    let _ = writer.file.flush().await;
}

// === impl Writer ===

impl LineWriter for Writer {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.size > 0 && self.size + buf.len() as u64 > self.config.max_bytes {
            self.rotate().await?;
        }
        self.file.write_all(buf).await?;
        self.file.flush().await?;
        if self.config.fsync {
            self.file.sync_data().await?;
        }
        self.size += buf.len() as u64;
        Ok(())
    }
}

impl Writer {
    async fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        let path = &self.config.path;
        if self.config.max_files > 0 {
            let _ = tokio::fs::remove_file(numbered(path, self.config.max_files)).await;
            for n in (1..self.config.max_files).rev() {
                let from = numbered(path, n);
                if tokio::fs::try_exists(&from).await.unwrap_or(false) {
                    tokio::fs::rename(&from, numbered(path, n + 1)).await?;
                }
            }
            tokio::fs::rename(path, numbered(path, 1)).await?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await?;
        } else {
            self.file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .await?;
        }
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::*;
    use crate::config::ComponentKind;
    use crate::event::{
        AckReceiver, AckStatus, Attributes, Event, EventBatch, LogRecord, Resource,
    };
    use crate::telemetry::events::ComponentMetrics;
    use crate::topology::{Globals, SinkInput, StatusRegistry};

    #[tokio::test]
    async fn rotates_by_size_and_acknowledges_after_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let config = FileSinkConfig {
            path: path.clone(),
            max_bytes: 4096,
            max_files: 2,
            fsync: false,
        };
        let (tx, rx) = mpsc::channel(4);
        let status = Arc::new(StatusRegistry::default());
        let metrics = ComponentMetrics::new("t", ComponentKind::Sink, "file");
        let cx = SinkContext {
            id: "t".into(),
            input: SinkInput::from_receiver(rx),
            hard_stop: Default::default(),
            globals: Arc::new(Globals::standalone(dir.path())),
            metrics: metrics.clone(),
            status: status.register(ComponentKind::Sink, "t", "file", metrics),
        };
        let task = tokio::spawn(build(&config, cx).unwrap());
        let mut acks = AckReceiver::new();
        let resource = Arc::new(Resource::default());
        let shared = Arc::new(Attributes::new());
        for b in 0..10u64 {
            let events = (0..20)
                .map(|i| {
                    Event::Log(LogRecord::new(
                        format!("batch {b} line {i}"),
                        shared.clone(),
                        resource.clone(),
                    ))
                })
                .collect();
            tx.send(EventBatch::new(events, acks.ack(b))).await.unwrap();
        }
        drop(tx);
        task.await.unwrap();
        let mut acked = Vec::new();
        while let Some((id, status)) = acks.try_recv() {
            assert_eq!(status, AckStatus::Delivered);
            acked.push(id);
        }
        assert_eq!(acked.len(), 10);
        // Rotation kept two older files; the newest holds the last lines.
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.contains("batch 9 line 19"));
        assert!(std::fs::metadata(numbered(&path, 1)).is_ok());
        assert!(std::fs::metadata(numbered(&path, 2)).is_ok());
        assert!(std::fs::metadata(numbered(&path, 3)).is_err());
        for file in [path.clone(), numbered(&path, 1), numbered(&path, 2)] {
            assert!(std::fs::metadata(&file).unwrap().len() <= 4096 + 2048);
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
    }
}
