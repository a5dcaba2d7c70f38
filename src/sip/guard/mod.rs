//! Brute-force and flood protection for the SIP front door, sans-IO.
//!
//! Exists so that password guessing and request floods are refused before they cost a digest
//! computation or a transaction. Pieces:
//! - [`AuthFailures`]: fail2ban-style counting of failed authentications per source and per
//!   (realm, user), banning sources and throttling attacked users.
//! - [`RateLimiter`]: token bucket per source.
//! - [`Bans`]: the ban table, listable for an operator command.
//!
//! Every table is bounded; each type documents what happens when it is full. IPv6 sources
//! are grouped by prefix (default /64, see [`source_key`]) because one host usually owns a
//! whole /64 and could otherwise rotate addresses to evade bans and fill tables. Time comes in
//! as `Instant`. This module must never do I/O, read the clock, or grow without bound on
//! anything a peer controls.

mod bans;
mod bounded;
mod failures;
mod rate;
mod source;

pub use bans::Bans;
pub use failures::{Admission, AuthFailures, FailureConfig, FailureOutcome};
pub use rate::{RateConfig, RateLimiter};
pub use source::source_key;

/// A guard configuration that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A count, duration or rate that must be positive is zero (or not finite).
    #[error("{field} must be greater than zero, got {value}")]
    NotPositive {
        /// The config field.
        field: &'static str,
        /// The value given, printed.
        value: String,
    },
    /// An IPv6 prefix length above 128.
    #[error("ipv6_prefix must be between 0 and 128, got {0}")]
    BadPrefix(u8),
}
