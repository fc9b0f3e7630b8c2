//! The running pipeline: sources and checks fan out to the sinks that name
//! them as inputs, over bounded channels.
//!
//! ```text
//!  source ──Fanout──┬──> [mpsc, bounded] ──> sink A ──ack──┐
//!                   └──> [mpsc, bounded] ──> sink B ──ack──┴──> source's AckReceiver
//! ```
//!
//! A full sink channel makes the source wait: backpressure reaches the
//! reader, and nothing queues without bound. This is the kernel components
//! import; assembling them from a configuration (start, reload, shutdown)
//! is `crate::app::pipeline`, above it.

mod context;
mod fanout;
mod status;

pub use context::{
    BoxedComponent, BuildError, Globals, SinkContext, SinkInput, SourceContext, TransformContext,
};
pub use fanout::{
    Fanout, FanoutControl, LOG_CHANNEL_BATCHES, PendingSend, SINK_CHANNEL_BATCHES, SinkSender,
};
pub(crate) use fanout::{TargetSet, Targets};
pub use status::{ComponentState, StatusHandle, StatusRegistry};
