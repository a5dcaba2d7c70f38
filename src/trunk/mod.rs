//! Trunks: pbxd watches each tenant's carriers — registering where a trunk says so, pinging
//! with OPTIONS — and reports them up or down (API, events, metrics, `pbxctl top`).
//!
//! Split: [`monitor`] is the sans-IO state machine of one trunk, driven by the SIP core; the
//! [`resolver`] task (on the main runtime) turns the tenant files into [`TrunkSpec`]s —
//! resolving carrier host names and reading passwords, the slow and blocking parts — and
//! hands them to the core whenever they change.

pub mod monitor;
pub mod resolver;

pub use monitor::{Monitor, RegisterSpec, RequestKind, TrunkSpec, TrunkView};
