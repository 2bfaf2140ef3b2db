//! Shared vocabulary of Folio: identifiers, job states and the settings of a job ticket.
//!
//! Everything here is pure data with parsing and conversions; no I/O.

mod job_state;
mod ticket;

pub use job_state::{JobState, JobStateReason};
pub use ticket::{ColorMode, DocumentFormat, Sides};

use std::fmt;

/// A user name as Folio knows it (for now the IPP `requesting-user-name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

impl UserName {
    /// The longest user name accepted (IPP `name(MAX)` is 255 bytes).
    pub const MAX_LEN: usize = 255;

    /// Parses a user name: trimmed, non-empty, at most 255 bytes, no control characters.
    pub fn parse(raw: &str) -> Option<UserName> {
        let trimmed = raw.trim();
        if trimmed.is_empty()
            || trimmed.len() > Self::MAX_LEN
            || trimmed.chars().any(char::is_control)
        {
            return None;
        }
        Some(UserName(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The anonymous user, used when a client sends no `requesting-user-name`.
pub const ANONYMOUS: &str = "anonymous";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_is_trimmed() {
        assert_eq!(UserName::parse("  alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn empty_or_control_user_names_are_refused() {
        assert!(UserName::parse("   ").is_none());
        assert!(UserName::parse("al\nice").is_none());
        assert!(UserName::parse(&"x".repeat(256)).is_none());
    }
}
