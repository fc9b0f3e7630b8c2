//! The error convention: a message says what failed, never why; the why is
//! its `source()`, and the printers — [`Chain`] for one line in the log,
//! `/status` and on the terminal — walk the chain. So each cause is printed
//! once, however many layers wrap it.

use std::error::Error;
use std::fmt;

/// An error and its causes, `: `-joined on one line.
///
/// A cause whose text its wrapper already ends with is printed once: some
/// libraries' errors repeat their source in their own message.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the queue")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn every_cause_once() {
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(
            Chain(&error).to_string(),
            "cannot open the queue: disk full"
        );
        let error = Repeats(std::io::Error::other("no threads"));
        assert_eq!(Chain(&error).to_string(), "cannot start: no threads");
    }
}
