//! Scenario tests of the transaction layer in virtual time: a [`Pair`] of layers (client
//! and server) wired back to back, as quinn-proto's tests do, with packet loss on demand.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Peer, PeerTransport, TxnConfig, TxnEvent, TxnKey, TxnLayer};
use crate::sip::msg::Limits;
use crate::sip::msg::Message;
use crate::sip::msg::ResponseBuilder;
use crate::sip::msg::parse_datagram;

mod client_invite;
mod client_non_invite;
mod layer;
mod server_invite;
mod server_non_invite;

pub(super) const T1: Duration = Duration::from_millis(500);

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn parse(bytes: &Bytes) -> Message {
    parse_datagram(bytes.clone(), &Limits::default()).unwrap()
}

/// A request from the client at 192.0.2.1 to the server at 192.0.2.2.
pub(super) fn request(method: &str, branch: &str, cseq: u32) -> Bytes {
    request_with(method, branch, cseq, "<sip:bob@192.0.2.2>")
}

pub(super) fn request_with(method: &str, branch: &str, cseq: u32, to: &str) -> Bytes {
    Bytes::from(format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@192.0.2.1>;tag=alice1\r\n\
To: {to}\r\n\
Call-ID: call-1@192.0.2.1\r\n\
CSeq: {cseq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

/// The status line of a message, e.g. `SIP/2.0 486 Busy Here`, or the request line.
pub(super) fn first_line(bytes: &Bytes) -> String {
    String::from_utf8_lossy(bytes).lines().next().unwrap_or("").to_string()
}

/// One side of the pair: a layer, its address, what it sent and what its TU saw.
pub(super) struct Side {
    pub(super) layer: TxnLayer,
    pub(super) addr: Peer,
    /// Everything this side transmitted, with the time, dropped or not.
    pub(super) sent: Vec<(Instant, Bytes)>,
    /// Everything the TU got: `handle_incoming` results and `poll_event`s, in order.
    pub(super) events: Vec<TxnEvent<Peer>>,
    /// Drop this many of the next packets this side sends.
    pub(super) drop_next: usize,
    /// Drop everything this side sends.
    pub(super) unplugged: bool,
}

impl Side {
    fn new(config: TxnConfig, addr: Peer) -> Side {
        Side {
            layer: TxnLayer::new(config),
            addr,
            sent: Vec::new(),
            events: Vec::new(),
            drop_next: 0,
            unplugged: false,
        }
    }

    /// The first lines of what was sent at or after `since`.
    pub(super) fn sent_since(&self, since: Instant) -> Vec<String> {
        self.sent.iter().filter(|(t, _)| *t >= since).map(|(_, b)| first_line(b)).collect()
    }

    /// Offsets from `start` of every transmission whose first line starts with `line`.
    pub(super) fn send_times(&self, start: Instant, line: &str) -> Vec<Duration> {
        self.sent.iter().filter(|(_, b)| first_line(b).starts_with(line)).map(|(t, _)| *t - start).collect()
    }

    /// Removes and returns the TU's events.
    pub(super) fn take_events(&mut self) -> Vec<TxnEvent<Peer>> {
        std::mem::take(&mut self.events)
    }

    /// The new requests the TU received so far, as (key, message).
    pub(super) fn requests(&self) -> Vec<(TxnKey, Message)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TxnEvent::Request { key, msg, .. } => Some((key.clone(), msg.clone())),
                _ => None,
            })
            .collect()
    }

    /// The statuses of the responses the TU received.
    pub(super) fn responses(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TxnEvent::Response { msg, .. } => msg.status(),
                _ => None,
            })
            .collect()
    }

    pub(super) fn timeouts(&self) -> usize {
        self.events.iter().filter(|e| matches!(e, TxnEvent::Timeout(_))).count()
    }

    pub(super) fn terminated(&self) -> usize {
        self.events.iter().filter(|e| matches!(e, TxnEvent::Terminated(_))).count()
    }
}

/// A client layer and a server layer connected back to back, in virtual time.
pub(super) struct Pair {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) client: Side,
    pub(super) server: Side,
}

impl Pair {
    pub(super) fn new(transport: PeerTransport) -> Pair {
        Pair::with_config(transport, TxnConfig::default())
    }

    pub(super) fn with_config(transport: PeerTransport, config: TxnConfig) -> Pair {
        let start = Instant::now();
        let client = Side::new(config, Peer::new(transport, "192.0.2.1:5060".parse().unwrap()));
        let server = Side::new(config, Peer::new(transport, "192.0.2.2:5060".parse().unwrap()));
        Pair { start, now: start, client, server }
    }

    /// The client TU sends a request; the pair is then driven.
    pub(super) fn client_sends(&mut self, request: Bytes) -> TxnKey {
        let key = self.client.layer.send_request(request, self.server.addr, self.now).unwrap();
        self.drive();
        key
    }

    /// The server TU answers `key` with `status` built from `req`; the pair is driven.
    pub(super) fn server_answers(&mut self, key: &TxnKey, req: &Message, status: u16) {
        let response = ResponseBuilder::new(req, status).to_tag("bob1").build();
        self.server.layer.send_response(key, response, self.now).unwrap();
        self.drive();
    }

    /// Hands `bytes` to the server layer as if the client had sent them (bypassing the
    /// client layer); the pair is then driven.
    pub(super) fn inject_to_server(&mut self, bytes: Bytes) {
        self.client.sent.push((self.now, bytes.clone()));
        let source = self.client.addr;
        deliver(&mut self.server, parse(&bytes), source, self.now);
        self.drive();
    }

    /// Like [`Pair::inject_to_server`], toward the client.
    pub(super) fn inject_to_client(&mut self, bytes: Bytes) {
        self.server.sent.push((self.now, bytes.clone()));
        let source = self.server.addr;
        deliver(&mut self.client, parse(&bytes), source, self.now);
        self.drive();
    }

    /// Moves packets both ways until neither layer has anything to send.
    pub(super) fn drive(&mut self) {
        loop {
            let a = flush(&mut self.client, &mut self.server, self.now);
            let b = flush(&mut self.server, &mut self.client, self.now);
            for side in [&mut self.client, &mut self.server] {
                while let Some(e) = side.layer.poll_event() {
                    side.events.push(e);
                }
            }
            if !a && !b {
                break;
            }
        }
    }

    /// The earlier deadline of the two layers.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        [self.client.layer.poll_timeout(), self.server.layer.poll_timeout()].into_iter().flatten().min()
    }

    /// Jumps to the next deadline, fires it and drives; `false` when no timer is set.
    pub(super) fn step(&mut self) -> bool {
        let Some(at) = self.next_timeout() else { return false };
        self.now = self.now.max(at);
        self.client.layer.handle_timeout(self.now);
        self.server.layer.handle_timeout(self.now);
        self.drive();
        true
    }

    /// Fires every timer up to `start + offset`, in order, and leaves the clock there.
    pub(super) fn run_until(&mut self, offset: Duration) {
        let until = self.start + offset;
        while self.next_timeout().is_some_and(|t| t <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Runs until no timer is left (every transaction has terminated).
    pub(super) fn run_to_idle(&mut self) {
        let mut guard = 0;
        while self.step() {
            guard += 1;
            assert!(guard < 10_000, "timers never settle");
        }
    }
}

/// Sends everything `from` has queued to `to`; true if anything was queued.
fn flush(from: &mut Side, to: &mut Side, now: Instant) -> bool {
    let mut any = false;
    while let Some(t) = from.layer.poll_transmit() {
        any = true;
        assert_eq!(t.dest, to.addr, "transmit to the wrong peer");
        from.sent.push((now, t.bytes.clone()));
        if from.unplugged {
            continue;
        }
        if from.drop_next > 0 {
            from.drop_next -= 1;
            continue;
        }
        deliver(to, parse(&t.bytes), from.addr, now);
    }
    any
}

fn deliver(to: &mut Side, msg: Message, source: Peer, now: Instant) {
    if let Some(e) = to.layer.handle_incoming(msg, source, now) {
        to.events.push(e);
    }
}
