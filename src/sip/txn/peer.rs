//! Who a transaction talks to, as far as the transaction layer cares.
//!
//! Exists because the layer needs exactly two things from a transport address: a value
//! to hand back in [`super::Transmit::dest`], and whether the transport is reliable
//! (which turns retransmissions off and timers D, I, J, K to zero). It must never look
//! inside the address or open anything: the I/O shell owns sockets and connections.

use std::fmt;
use std::net::SocketAddr;

/// A transport destination or source the layer treats as opaque.
///
/// Implement it for the shell's own connection handle (e.g. a TCP connection id) or use
/// [`Peer`].
pub trait TxnPeer: Clone + fmt::Debug {
    /// True for TCP, TLS, SCTP, WS, WSS: no retransmissions, zero wait timers.
    fn is_reliable(&self) -> bool;
}

/// The transport protocol of a [`Peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerTransport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
}

impl PeerTransport {
    /// Everything but UDP is reliable (RFC 3261 §17.1.1.1, RFC 7118 for WebSocket).
    pub fn is_reliable(self) -> bool {
        !matches!(self, PeerTransport::Udp)
    }
}

/// A transport and a socket address: enough for a shell with one socket per transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: PeerTransport,
    pub addr: SocketAddr,
}

impl Peer {
    pub fn new(transport: PeerTransport, addr: SocketAddr) -> Peer {
        Peer { transport, addr }
    }
}

impl TxnPeer for Peer {
    fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}
