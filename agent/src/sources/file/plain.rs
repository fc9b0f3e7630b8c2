//! Plain log files: each line (or multiline group) is a record.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::handler::{Emitter, FileKey, LineHandler, RawLine, StreamFactory, StreamSpec};
use super::multiline::{Multiline, MultilineConfig};
use crate::event::{Attributes, Event, Handout, LogFlags, LogRecord, Resource};

/// Streams of the `file` source: one per path, records carrying
/// `log.file.path` and `log.file.name`.
pub struct PlainFactory {
    resource: Arc<Resource>,
    extra: Attributes,
    multiline: Option<MultilineConfig>,
}

/// Lines of one plain file (and its rotations).
pub struct PlainHandler {
    shared: Handout<Attributes>,
    resource: Handout<Resource>,
    multiline: Option<Multiline>,
}

// === impl PlainFactory ===

impl PlainFactory {
    /// Streams with `resource`, `extra` attributes and optional multiline.
    pub fn new(
        resource: Arc<Resource>,
        extra: Attributes,
        multiline: Option<MultilineConfig>,
    ) -> Self {
        PlainFactory {
            resource,
            extra,
            multiline,
        }
    }
}

impl StreamFactory for PlainFactory {
    fn stream_for(&mut self, path: &Path) -> Option<StreamSpec> {
        Some(StreamSpec {
            key: path.display().to_string(),
            resource: Arc::clone(&self.resource),
        })
    }

    fn handler(&mut self, spec: &StreamSpec, path: &Path) -> Box<dyn LineHandler> {
        let mut shared = self.extra.clone();
        shared.insert("log.file.path", path.display().to_string());
        if let Some(name) = path.file_name() {
            shared.insert("log.file.name", name.to_string_lossy().into_owned());
        }
        Box::new(PlainHandler {
            shared: Handout::new(Arc::new(shared)),
            resource: Handout::new(Arc::clone(&spec.resource)),
            multiline: self.multiline.as_ref().map(Multiline::new),
        })
    }
}

// === impl PlainHandler ===

impl LineHandler for PlainHandler {
    fn handle(&mut self, line: RawLine<'_>, out: &mut Emitter) {
        let (body, invalid) = line.text(line.bytes);
        let mut flags = LogFlags::default();
        if invalid {
            flags.insert(LogFlags::INVALID_UTF8);
        }
        if line.truncated {
            flags.insert(LogFlags::TRUNCATED);
        }
        if line.unterminated {
            flags.insert(LogFlags::UNTERMINATED);
        }
        if line.replayed {
            flags.insert(LogFlags::REPLAYED);
        }
        let record = LogRecord {
            time_unix_nano: 0,
            observed_time_unix_nano: line.observed_unix_nano,
            severity_number: 0,
            severity_text: None,
            body,
            shared_attributes: self.shared.get(),
            attributes: Attributes::new(),
            flags,
            resource: self.resource.get(),
        };
        match self.multiline.as_mut() {
            Some(multiline) => {
                multiline.push(record, line.file, line.start, line.end, Instant::now(), out)
            }
            None => out.emit(Event::Log(record), line.file, line.end),
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Emitter) {
        if let Some(multiline) = self.multiline.as_mut() {
            multiline.tick(now, out);
        }
    }

    fn due(&self) -> Option<Instant> {
        self.multiline.as_ref().and_then(Multiline::due)
    }

    fn held_from(&self, file: FileKey) -> Option<u64> {
        self.multiline.as_ref().and_then(|m| m.held_from(file))
    }

    fn holds_nothing(&self) -> bool {
        self.multiline.as_ref().is_none_or(|m| m.is_empty())
    }

    fn file_closed(&mut self, file: FileKey, out: &mut Emitter) {
        if let Some(multiline) = self.multiline.as_mut()
            && multiline.holds(file)
        {
            multiline.flush(out);
        }
    }

    fn discard(&mut self) {
        if let Some(multiline) = self.multiline.as_mut() {
            multiline.discard();
        }
    }
}
