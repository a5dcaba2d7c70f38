//! One leg's dialog (RFC 3261 §12): the identifiers and route state needed to send requests
//! inside it, and the builders of those requests.
//!
//! Exists so the call machine speaks in "send BYE on leg B", not in header lines. pbxd is a
//! B2BUA: each leg is a dialog of its own, and nothing of one leg's headers leaks into the
//! other except what the machine copies on purpose (display name, body). Requests go to
//! `dest`, where the peer really is (its flow, or the NAT's public side); the Request-URI
//! stays the peer's Contact, as the peer expects.

use bytes::Bytes;

use crate::sip::core::{BRANCH_PREFIX, SERVER};
use crate::sip::msg::{HeaderName, Message, MessageWriter, Method};
use crate::sip::transport::Source;
use crate::sip::txn::PeerTransport;

/// The methods pbxd serves (MESSAGE and NOTIFY are relayed inside calls too, but not served
/// on their own, so they are not listed).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REGISTER";

#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    /// Our From (UAC) / To (UAS) header value, with our tag.
    pub local: String,
    /// The peer's header value, with its tag.
    pub remote: String,
    /// The peer's Contact URI: the Request-URI of our requests.
    pub remote_target: String,
    /// Route set, in the order of our Route headers.
    pub routes: Vec<String>,
    /// Our last CSeq number.
    pub cseq: u32,
    /// The peer's last CSeq number, to refuse requests out of order (§12.2.2).
    pub remote_cseq: Option<u32>,
    /// Where our requests go.
    pub dest: Source,
    /// Our listener address for Via and Contact.
    pub local_addr: std::net::SocketAddr,
}

/// Text of the transport for a Via or a `transport=` parameter.
pub fn transport_name(t: PeerTransport) -> &'static str {
    match t {
        PeerTransport::Udp => "UDP",
        PeerTransport::Tcp => "TCP",
        PeerTransport::Tls => "TLS",
        PeerTransport::Sctp => "SCTP",
        PeerTransport::Ws => "WS",
        PeerTransport::Wss => "WSS",
    }
}

/// Our Contact for a leg reached over `dest`.
pub fn contact(local_addr: std::net::SocketAddr, transport: PeerTransport) -> String {
    let scheme = if transport == PeerTransport::Tls { "sips" } else { "sip" };
    let host = match local_addr {
        std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        v4 => v4.to_string(),
    };
    match transport {
        PeerTransport::Udp | PeerTransport::Tls => format!("<{scheme}:pbx@{host}>"),
        t => format!("<sip:pbx@{host};transport={}>", transport_name(t).to_ascii_lowercase()),
    }
}

fn via(local_addr: std::net::SocketAddr, transport: PeerTransport, branch: &str) -> String {
    format!("SIP/2.0/{} {local_addr};branch={BRANCH_PREFIX}{branch};rport", transport_name(transport))
}

/// What a request carries beyond the dialog's headers.
#[derive(Default)]
pub struct Extra<'a> {
    pub headers: Vec<(&'a str, String)>,
    pub body: Option<(&'a str, &'a [u8])>,
}

impl Dialog {
    /// The dialog a UAS (pbxd toward the caller) forms from the INVITE it answers with `tag`.
    pub fn from_invite(
        invite: &Message,
        tag: &str,
        source: Source,
        local_addr: std::net::SocketAddr,
    ) -> Option<Dialog> {
        let to = invite.header(HeaderName::To)?.value_str().ok()?.trim().to_owned();
        Some(Dialog {
            call_id: invite.call_id().ok()?.to_owned(),
            local: format!("{to};tag={tag}"),
            remote: invite.header(HeaderName::From)?.value_str().ok()?.trim().to_owned(),
            remote_target: contact_uri(invite)?,
            routes: record_routes(invite),
            cseq: 0,
            remote_cseq: invite.cseq().ok().map(|c| c.seq),
            dest: source,
            local_addr,
        })
    }

    /// The dialog a UAC (pbxd toward a callee) forms from the 2xx (or 1xx) `response` to
    /// its request; `local` and `cseq` are what the request carried.
    pub fn from_response(
        response: &Message,
        call_id: &str,
        local: &str,
        cseq: u32,
        dest: Source,
        local_addr: std::net::SocketAddr,
    ) -> Option<Dialog> {
        let mut routes = record_routes(response);
        routes.reverse();
        Some(Dialog {
            call_id: call_id.to_owned(),
            local: local.to_owned(),
            remote: response.header(HeaderName::To)?.value_str().ok()?.trim().to_owned(),
            remote_target: contact_uri(response)?,
            routes,
            cseq,
            remote_cseq: None,
            dest,
            local_addr,
        })
    }

    /// A new request in this dialog (not ACK: see [`Dialog::ack`]); takes the next CSeq.
    pub fn request(&mut self, method: Method<'_>, branch: &str, extra: &Extra<'_>) -> Bytes {
        self.cseq += 1;
        self.write(method, self.cseq, branch, extra)
    }

    /// The ACK for our INVITE with CSeq `cseq` that got a 2xx: a transaction of its own.
    pub fn ack(&self, cseq: u32, branch: &str, body: Option<(&str, &[u8])>) -> Bytes {
        self.write(Method::Ack, cseq, branch, &Extra { headers: Vec::new(), body })
    }

    fn write(&self, method: Method<'_>, cseq: u32, branch: &str, extra: &Extra<'_>) -> Bytes {
        let transport = self.dest.transport;
        let mut w = MessageWriter::request(method, &self.remote_target);
        w.header("Via", via(self.local_addr, transport, branch)).header("Max-Forwards", 70);
        for route in &self.routes {
            w.header("Route", route);
        }
        w.header("From", &self.local)
            .header("To", &self.remote)
            .header("Call-ID", &self.call_id)
            .header("CSeq", format_args!("{cseq} {}", method.as_str()));
        if method != Method::Ack {
            w.header("Contact", contact(self.local_addr, transport)).header("User-Agent", SERVER);
        }
        for (name, value) in &extra.headers {
            w.header(name, value);
        }
        match extra.body {
            Some((content_type, body)) => {
                w.header("Content-Type", content_type);
                w.finish(body)
            }
            None => w.finish(b""),
        }
    }

    /// Checks the CSeq of a request from the peer; false when it is out of order.
    pub fn accept_remote_cseq(&mut self, msg: &Message) -> bool {
        let Ok(seq) = msg.cseq().map(|c| c.seq) else { return false };
        if self.remote_cseq.is_some_and(|last| seq <= last) {
            return false;
        }
        self.remote_cseq = Some(seq);
        true
    }
}

/// The Record-Route entries of a message, in order.
fn record_routes(msg: &Message) -> Vec<String> {
    msg.values(HeaderName::RecordRoute).filter_map(Result::ok).map(|v| v.trim().to_owned()).collect()
}

/// The first Contact URI of a message.
pub fn contact_uri(msg: &Message) -> Option<String> {
    msg.contacts().filter_map(Result::ok).find_map(|c| c.addr().map(|a| a.uri().as_str().to_owned()))
}

/// An INVITE starting a B-leg: new Call-ID, our From, the callee's AOR in To.
pub struct InviteParts<'a> {
    pub target_uri: &'a str,
    pub call_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub cseq: u32,
    pub max_forwards: u8,
    pub dest: Source,
    pub local_addr: std::net::SocketAddr,
    pub extra: Extra<'a>,
}

pub fn initial_invite(p: &InviteParts<'_>, branch: &str) -> Bytes {
    let mut w = MessageWriter::request(Method::Invite, p.target_uri);
    w.header("Via", via(p.local_addr, p.dest.transport, branch))
        .header("Max-Forwards", p.max_forwards)
        .header("From", p.from)
        .header("To", p.to)
        .header("Call-ID", p.call_id)
        .header("CSeq", format_args!("{} INVITE", p.cseq))
        .header("Contact", contact(p.local_addr, p.dest.transport))
        .header("Allow", ALLOW)
        .header("User-Agent", SERVER);
    for (name, value) in &p.extra.headers {
        w.header(name, value);
    }
    match p.extra.body {
        Some((ct, body)) => {
            w.header("Content-Type", ct);
            w.finish(body)
        }
        None => w.finish(b""),
    }
}

/// The CANCEL of an INVITE we sent (§9.1): same Request-URI, Via branch, From, To, Call-ID
/// and CSeq number as the INVITE.
pub fn cancel(p: &InviteParts<'_>, branch: &str) -> Bytes {
    let mut w = MessageWriter::request(Method::Cancel, p.target_uri);
    w.header("Via", via(p.local_addr, p.dest.transport, branch))
        .header("Max-Forwards", 70)
        .header("From", p.from)
        .header("To", p.to)
        .header("Call-ID", p.call_id)
        .header("CSeq", format_args!("{} CANCEL", p.cseq))
        .header("User-Agent", SERVER);
    w.finish(b"")
}
