//! Errors of the relay's control surface.
//!
//! Exists so the call layer can tell "no ports / too many calls" (answer 503 or 488) from a
//! broken host (log and alarm). Packet-level problems are never errors here: a bad packet is a
//! counted drop, not a `Result`.

use std::io;
use std::net::IpAddr;

/// What went wrong when building the relay or setting up a session.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Every RTP/RTCP pair of the pool is leased.
    #[error("port pool {ip} {first}..={last} exhausted: all {pairs} RTP/RTCP pairs are in use")]
    PortsExhausted { ip: IpAddr, first: u16, last: u16, pairs: usize },
    /// Free pairs exist but none of them could be bound (another program holds them).
    #[error("port pool {ip}: no free pair could be bound (last error: {source})")]
    NoBindablePorts { ip: IpAddr, source: io::Error },
    /// The configured range holds no even RTP port with its RTCP port.
    #[error("port range {first}..={last} holds no RTP/RTCP pair; give an even first port and at least two ports")]
    EmptyRange { first: u16, last: u16 },
    /// The configured session limit is reached.
    #[error("relay at its limit of {max} sessions")]
    TooManySessions { max: usize },
    /// A relay setting is out of range.
    #[error("relay config: {0}")]
    Config(&'static str),
    /// The relay's worker threads have stopped.
    #[error("relay is shut down")]
    ShutDown,
    /// The operating system refused a socket, epoll or thread operation.
    #[error("{what}: {source}")]
    Io { what: &'static str, source: io::Error },
}

impl RelayError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> RelayError {
        move |source| RelayError::Io { what, source }
    }
}
