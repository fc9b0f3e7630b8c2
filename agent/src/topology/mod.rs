//! The running pipeline: sources and checks fan out to the sinks that name
//! them as inputs, over bounded channels.
//!
//! ```text
//!  source ──Fanout──┬──> [mpsc, bounded] ──> sink A ──ack──┐
//!                   └──> [mpsc, bounded] ──> sink B ──ack──┴──> source's AckReceiver
//! ```
//!
//! A full sink channel makes the source wait: backpressure reaches the
//! reader, and nothing queues without bound. [`Topology`] starts the
//! components, reloads them when the configuration changes (rebuilding only
//! what changed) and shuts them down within a deadline.

mod context;
mod fanout;
mod running;
mod status;

pub use context::{BoxedComponent, BuildError, Globals, SinkContext, SinkInput, SourceContext};
pub use fanout::{Fanout, FanoutControl, PendingSend, SINK_CHANNEL_BATCHES, SinkSender};
pub use running::Topology;
pub use status::{ComponentState, StatusHandle, StatusRegistry};
