//! TCP and TLS: framing by Content-Length under limits, idle timeouts, and caps on
//! connections per source address and in all, so a client opening many connections and
//! sending garbage costs pbxd bounded memory. TLS is the same stream after a rustls
//! handshake, which must finish within the handshake timeout.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::{Inbound, Source};
use crate::sip::msg::{Frame, Limits, frame_stream};
use crate::sip::txn::PeerTransport;

/// Limits of stream connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub idle_timeout: Duration,
    pub per_source: usize,
    pub total: usize,
    pub message: Limits,
}

static NEXT_FLOW: AtomicU64 = AtomicU64::new(1);

/// Counts open connections per source address and in all.
#[derive(Default)]
struct Census {
    per_source: HashMap<IpAddr, usize>,
    total: usize,
}

/// Decrements the census when a connection ends, on every path.
struct Admitted {
    census: Arc<Mutex<Census>>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut c) = self.census.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_source.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    c.per_source.remove(&self.ip);
                }
            }
        }
    }
}

fn admit(census: &Arc<Mutex<Census>>, ip: IpAddr, limits: &ConnectionLimits) -> Option<Admitted> {
    let mut c = census.lock().ok()?;
    let from_source = c.per_source.get(&ip).copied().unwrap_or(0);
    if c.total >= limits.total || from_source >= limits.per_source {
        return None;
    }
    c.total += 1;
    *c.per_source.entry(ip).or_insert(0) += 1;
    Some(Admitted { census: census.clone(), ip })
}

/// A TLS handshake that takes longer is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts TCP connections (TLS ones when `tls` is set) and serves each on its own task.
pub async fn spawn_listener(
    addr: SocketAddr,
    listener_index: u16,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    inbound: mpsc::Sender<Inbound>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let census = Arc::new(Mutex::new(Census::default()));
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let Some(admitted) = admit(&census, peer.ip(), &limits) else {
                tracing::debug!(%peer, "TCP connection refused: connection limit");
                continue; // dropping the stream closes it
            };
            let _ = stream.set_nodelay(true);
            let flow = NEXT_FLOW.fetch_add(1, Ordering::Relaxed);
            let (limits, inbound) = (limits.clone(), inbound.clone());
            match &tls {
                None => {
                    let source = Source { transport: PeerTransport::Tcp, addr: peer, listener: listener_index, flow };
                    tokio::spawn(serve(stream, source, limits, inbound, admitted));
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let source = Source { transport: PeerTransport::Tls, addr: peer, listener: listener_index, flow };
                    tokio::spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve(stream, source, limits, inbound, admitted).await,
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    });
    Ok(local)
}

/// Reads framed messages until the peer closes, idles out, or breaks the framing rules.
async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    source: Source,
    limits: ConnectionLimits,
    inbound: mpsc::Sender<Inbound>,
    _admitted: Admitted,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(128);
    if inbound.send(Inbound::FlowOpened { flow: source.flow, sender: out_tx.clone() }).await.is_err() {
        return;
    }
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(4096);
    'read: loop {
        match tokio::time::timeout(limits.idle_timeout, reader.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(_)) => {}
        }
        loop {
            match frame_stream(&buf, &limits.message) {
                Ok(Some(Frame::KeepAlive(n))) => {
                    // RFC 5626 §3.5.1: a CRLFCRLF ping gets a CRLF pong.
                    if n >= 4 {
                        let _ = out_tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                    buf.advance(n);
                }
                Ok(Some(Frame::Message(len))) => {
                    let bytes = buf.split_to(len).freeze();
                    if inbound.send(Inbound::Message { bytes, source }).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) if buf.len() > limits.message.max_message_size => break 'read,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(peer = %source.addr, error = %e, "closing TCP connection: bad framing");
                    break 'read;
                }
            }
        }
    }
    drop(out_tx);
    let _ = inbound.send(Inbound::FlowClosed { flow: source.flow }).await;
    write_task.abort();
}
