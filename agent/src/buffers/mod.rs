//! Buffers that hold events between a sink's input and its destination.
//!
//! Logs need none of their own: the files they come from are their buffer
//! (a file source re-reads what was not acknowledged). What the agent
//! generates itself — metrics, check results — has no such backing, so each
//! sink that ships it keeps a [`disk_queue`].

pub mod disk_queue;
