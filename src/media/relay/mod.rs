//! Anchored RTP relay of the pbx B2BUA: media of a call passes through the node, unchanged
//! (same codec on both legs), so both phones only ever talk to us.
//!
//! Exists to hide endpoints from each other, to fix NAT'd media with symmetric latching, and to
//! measure call quality and find dead calls without decoding. It never decodes, mixes or
//! transcodes (that is the processing path), and never runs on the SIP runtime's threads: the
//! [`Relay`] owns plain OS threads, each with its own epoll set, and the call actors steer it
//! through non-blocking calls on [`SessionHandle`].
//!
//! Layout: [`port_pool`] leases RTP/RTCP pairs; [`rtp`], [`latch`], [`stats`] and `session`
//! are sans-IO (bytes and `now` in, decisions out); `worker` moves the bytes; [`io`] is the only
//! module with `unsafe` (epoll, eventfd, recvmmsg/sendmmsg); `kernel` hands latched sessions
//! to nftables; [`engine`] is the control API.

pub mod engine;
mod error;
pub mod io;
mod kernel;
pub mod latch;
pub mod port_pool;
pub mod rtp;
mod session;
pub mod stats;
pub mod tap;
mod worker;

pub use engine::{Relay, RelayConfig, RelayEvent, SessionHandle, SessionId};
pub use error::RelayError;
pub use latch::LatchPolicy;
pub use port_pool::{PortPair, PortPool, PortPoolConfig, WARM_REST};
pub use session::{Leg, LegConfig};
pub use stats::{LegStats, PeerReport, SessionStats};
pub use tap::{Tap, TapPacket};
