//! The thin I/O shell around the sans-IO SIP core: sockets in, `Inbound` messages out to the
//! core's queue; the core's `Transmit`s back out through the `Outbox`.
//!
//! Transports never interpret SIP beyond framing: UDP hands over whole datagrams, TCP frames
//! by Content-Length (`msg::frame_stream`) under size limits. Replies and in-dialog requests
//! go back over the flow a request came in on, so phones behind NAT are reachable.

mod tcp;
mod tls;
mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::sip::txn::{PeerTransport, TxnPeer};

pub use tcp::ConnectionLimits;
pub use tls::acceptor as tls_acceptor;

/// Where a message came from (or goes to): transport, remote address, the local listener,
/// and for stream transports the connection ("flow") it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    pub transport: PeerTransport,
    pub addr: SocketAddr,
    /// Index of the local listener.
    pub listener: u16,
    /// Connection id for stream transports; 0 for UDP.
    pub flow: u64,
}

impl TxnPeer for Source {
    fn is_reliable(&self) -> bool {
        self.transport != PeerTransport::Udp
    }
}

/// What transports hand to the SIP core.
#[derive(Debug)]
pub enum Inbound {
    /// One datagram or one framed stream message.
    Message { bytes: Bytes, source: Source },
    /// A stream connection opened; the core sends on it through `sender`.
    FlowOpened { flow: u64, sender: mpsc::Sender<Bytes> },
    /// A stream connection closed.
    FlowClosed { flow: u64 },
}

/// A configured listener: "udp:ADDR:PORT", "tcp:ADDR:PORT", "tls:ADDR:PORT".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSpec {
    pub transport: PeerTransport,
    pub addr: SocketAddr,
}

impl std::str::FromStr for ListenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (proto, addr) = s.split_once(':').ok_or_else(|| format!("invalid listener \"{s}\""))?;
        let transport = match proto {
            "udp" => PeerTransport::Udp,
            "tcp" => PeerTransport::Tcp,
            "tls" => PeerTransport::Tls,
            other => return Err(format!("unknown transport \"{other}\" in \"{s}\"")),
        };
        let addr = addr.parse().map_err(|_| format!("invalid address in listener \"{s}\""))?;
        Ok(Self { transport, addr })
    }
}

impl std::fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.transport {
            PeerTransport::Udp => "udp",
            PeerTransport::Tcp => "tcp",
            PeerTransport::Tls => "tls",
            PeerTransport::Sctp => "sctp",
            PeerTransport::Ws => "ws",
            PeerTransport::Wss => "wss",
        };
        write!(f, "{proto}:{}", self.addr)
    }
}

/// Sends what the core produces: datagrams on the listener they belong to, stream bytes on
/// their connection. Owned by the core task, so it needs no locks.
pub struct Outbox {
    udp: Vec<Option<Arc<UdpSocket>>>,
    flows: HashMap<u64, mpsc::Sender<Bytes>>,
}

impl Outbox {
    pub fn flow_opened(&mut self, flow: u64, sender: mpsc::Sender<Bytes>) {
        self.flows.insert(flow, sender);
    }

    pub fn flow_closed(&mut self, flow: u64) {
        self.flows.remove(&flow);
    }

    /// Sends without waiting; false when the message could not be queued (UDP socket
    /// buffer full, connection gone or its queue full), which SIP treats as a lost packet
    /// or a transport error.
    pub fn send(&self, dest: &Source, bytes: Bytes) -> bool {
        match dest.transport {
            PeerTransport::Udp => self
                .udp
                .get(usize::from(dest.listener))
                .and_then(Option::as_ref)
                .is_some_and(|socket| socket.try_send_to(&bytes, dest.addr).is_ok()),
            _ => self.flows.get(&dest.flow).is_some_and(|tx| tx.try_send(bytes).is_ok()),
        }
    }

    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }
}

/// The bound listeners: local addresses (ports resolved) in configuration order.
pub struct Listeners {
    pub outbox: Outbox,
    pub local: Vec<ListenSpec>,
}

/// Binds every listener and starts its receive tasks, feeding `inbound`.
pub async fn start(
    specs: &[ListenSpec],
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    inbound: mpsc::Sender<Inbound>,
) -> std::io::Result<Listeners> {
    let mut udp_sockets = Vec::new();
    let mut local = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let listener = u16::try_from(index).unwrap_or(u16::MAX);
        let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot listen on {spec}: {e}"));
        match spec.transport {
            PeerTransport::Udp => {
                let socket = Arc::new(udp::bind(spec.addr).map_err(named)?);
                local.push(ListenSpec { transport: spec.transport, addr: socket.local_addr()? });
                udp::spawn_receiver(socket.clone(), listener, inbound.clone());
                udp_sockets.push(Some(socket));
            }
            PeerTransport::Tcp | PeerTransport::Tls => {
                let acceptor = match spec.transport {
                    PeerTransport::Tls => Some(tls.clone().ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::InvalidInput, "a tls: listener needs [sip.tls]")
                    })?),
                    _ => None,
                };
                let addr = tcp::spawn_listener(spec.addr, listener, acceptor, limits.clone(), inbound.clone())
                    .await
                    .map_err(named)?;
                local.push(ListenSpec { transport: spec.transport, addr });
                udp_sockets.push(None);
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("{other:?} listeners are not supported yet"),
                ));
            }
        }
    }
    Ok(Listeners { outbox: Outbox { udp: udp_sockets, flows: HashMap::new() }, local })
}
