//! UDP: one receive task per socket, each datagram copied once into an exact-size buffer.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Inbound, Source};
use crate::sip::txn::PeerTransport;

/// Receive buffers sized for bursts: the kernel queues datagrams while the core is busy.
const SOCKET_BUFFER: usize = 8 << 20;

pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket)?;
    set_buffers(&socket);
    Ok(socket)
}

fn set_buffers(socket: &UdpSocket) {
    let sock = socket2_ref(socket);
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
}

fn socket2_ref(socket: &UdpSocket) -> socket2::SockRef<'_> {
    socket2::SockRef::from(socket)
}

pub fn spawn_receiver(socket: Arc<UdpSocket>, listener: u16, inbound: mpsc::Sender<Inbound>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (len, addr) = match socket.recv_from(&mut buf).await {
                Ok(received) => received,
                // ICMP errors from earlier sends surface here on Linux; they are not fatal.
                Err(_) => continue,
            };
            let source = Source { transport: PeerTransport::Udp, addr, listener, flow: 0 };
            let bytes = Bytes::copy_from_slice(&buf[..len]);
            if inbound.send(Inbound::Message { bytes, source }).await.is_err() {
                return; // the core stopped
            }
        }
    });
}
