//! What a registration is: one [`Binding`] of a contact to an address of record, the
//! [`LocationChange`]s the caller persists, and the 200 OK Contact formatting.
//!
//! Exists so the store, the REGISTER logic, persistence and `pbxctl` share one plain data
//! type. A binding is kept compact (owned strings only where the text is needed, no parsed
//! copies) because 100,000 of them must fit well under 1 kB each. It must never hold
//! references into a received buffer (that would pin whole datagrams in memory).

use std::borrow::Borrow;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;

/// The transport a binding was registered over (and will be reached over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Parses a Via / persisted transport token, ignoring case; `None` for SCTP and
    /// unknown tokens (the PBX listens on none of those).
    pub fn parse(token: &str) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls, Transport::Ws, Transport::Wss]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// True for connection-oriented transports, whose bindings live on a flow.
    pub fn is_stream(self) -> bool {
        self != Transport::Udp
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One contact bound to an address of record (RFC 3261 §10.3).
///
/// Requests to the binding go to `source` (over `flow` when set) when `behind_nat` is true
/// or the transport is a stream, and to the Contact URI otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as sent (without `<>` and header parameters), e.g.
    /// `sip:alice@192.168.1.20:5060;transport=udp`.
    pub contact: String,
    /// `q` in thousandths; 1000 when the contact had no `q`.
    pub q_millis: u16,
    /// When the binding expires, unix seconds.
    pub expires_at: u64,
    /// Call-ID of the REGISTER that last refreshed it (ordering, §10.3 step 7).
    pub call_id: String,
    /// CSeq of that REGISTER.
    pub cseq: u32,
    /// Where the REGISTER came from (the NAT's public side when behind NAT).
    pub source: SocketAddr,
    pub transport: Transport,
    /// Connection id for TCP/TLS/WS bindings (RFC 5626-style: the binding dies with it).
    pub flow: Option<u64>,
    /// The Contact or Via disagrees with the source address (see `nat::assess`).
    pub behind_nat: bool,
    /// User-Agent text, truncated to `LocationLimits::max_user_agent_len`.
    pub user_agent: Option<String>,
    /// When the last REGISTER for this binding was accepted, unix seconds.
    pub registered_at: u64,
}

/// Where requests to a binding go: the hook the B2BUA uses to reach a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Over the connection the phone registered on (TCP, TLS, WebSocket).
    Flow { flow: u64, addr: SocketAddr },
    /// To this address over UDP: the NAT's public side when the phone is behind NAT.
    Udp(SocketAddr),
    /// To the Contact URI, resolved by RFC 3263 (its host is a name).
    Contact,
}

impl Binding {
    /// Where to send requests for this binding. Behind NAT, or on a stream transport, the
    /// Contact's own address is useless: the request goes where the REGISTER came from.
    /// The B2BUA also rewrites the Contact and the SDP of the phone's messages with this
    /// source address (the same test, `behind_nat`).
    pub fn reach(&self) -> Reach {
        if let Some(flow) = self.flow {
            return Reach::Flow { flow, addr: self.source };
        }
        if self.behind_nat {
            return Reach::Udp(self.source);
        }
        match contact_addr(&self.contact) {
            Some(addr) => Reach::Udp(addr),
            None => Reach::Contact,
        }
    }

    /// Seconds left before expiry (0 once expired).
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at <= now
    }

    /// Heap bytes owned by this binding (string capacities), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.contact.capacity() + self.call_id.capacity() + self.user_agent.as_ref().map_or(0, String::capacity)
    }
}

/// Why a binding went away; persistence ignores it, logs and events use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// A REGISTER with expires 0 or `Contact: *`.
    Unregistered,
    /// Its expiry time passed.
    Expired,
    /// The TCP/TLS/WS connection it was bound to closed.
    FlowClosed,
    /// It stopped answering NAT keep-alives.
    KeepAliveFailed,
    /// An operator removed it.
    Admin,
}

/// A change to persist (batched, asynchronously) so bindings survive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationChange {
    /// Insert, or replace the binding with the same contact.
    Upsert {
        tenant: String,
        user: String,
        binding: Binding,
        /// A new contact, or one that moved (source, transport or flow); false for a plain
        /// refresh, which only extends the expiry.
        fresh: bool,
    },
    Remove {
        tenant: String,
        user: String,
        contact: String,
        reason: RemoveReason,
    },
}

/// The IP address and port of a `sip:` Contact whose host is an address literal.
fn contact_addr(contact: &str) -> Option<SocketAddr> {
    match crate::sip::msg::Uri::parse(contact).ok()? {
        crate::sip::msg::Uri::Sip(sip) => {
            let port = sip.port().unwrap_or(5060);
            let host = sip.host().to_string();
            let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
            Some(SocketAddr::new(ip, port))
        }
        _ => None,
    }
}

/// Formats `q` thousandths as a qvalue: 1000 -> `1`, 500 -> `0.5`, 5 -> `0.005`.
pub fn format_q(millis: u16) -> String {
    if millis >= 1000 {
        return "1".to_owned();
    }
    let mut s = format!("0.{millis:03}");
    while s.ends_with('0') && s.len() > 3 {
        s.pop();
    }
    if s == "0.0" { "0".to_owned() } else { s }
}

/// The Contact header value of a 200 OK to REGISTER (RFC 3261 §10.3 step 8): every
/// binding as `<uri>;expires=N` (remaining seconds), plus `;q=` when not 1, joined by `, `.
/// Empty when there are no bindings (then the 200 OK carries no Contact).
pub fn contact_header_value<B: Borrow<Binding>>(bindings: impl IntoIterator<Item = B>, now: u64) -> String {
    let mut out = String::new();
    for b in bindings {
        let b = b.borrow();
        if !out.is_empty() {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "<{}>;expires={}", b.contact, b.remaining(now));
        if b.q_millis < 1000 {
            let _ = write!(out, ";q={}", format_q(b.q_millis));
        }
    }
    out
}

#[cfg(test)]
mod reach_tests {
    use super::*;

    fn binding(contact: &str, behind_nat: bool, flow: Option<u64>) -> Binding {
        Binding {
            contact: contact.to_owned(),
            q_millis: 1000,
            expires_at: 100,
            call_id: "c".to_owned(),
            cseq: 1,
            source: "203.0.113.9:40000".parse().unwrap(),
            transport: if flow.is_some() { Transport::Tcp } else { Transport::Udp },
            flow,
            behind_nat,
            user_agent: None,
            registered_at: 0,
        }
    }

    #[test]
    fn reach_follows_nat_and_flows() {
        let public = binding("sip:101@198.51.100.7:5062", false, None);
        assert_eq!(public.reach(), Reach::Udp("198.51.100.7:5062".parse().unwrap()));
        let natted = binding("sip:101@192.168.1.20:5060", true, None);
        assert_eq!(natted.reach(), Reach::Udp("203.0.113.9:40000".parse().unwrap()));
        let tcp = binding("sip:101@192.168.1.20:5060;transport=tcp", true, Some(7));
        assert_eq!(tcp.reach(), Reach::Flow { flow: 7, addr: "203.0.113.9:40000".parse().unwrap() });
        assert_eq!(binding("sip:101@phone.example.net", false, None).reach(), Reach::Contact);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::binding;
    use super::*;

    #[test]
    fn q_values_print_as_qvalue() {
        assert_eq!(format_q(1000), "1");
        assert_eq!(format_q(500), "0.5");
        assert_eq!(format_q(330), "0.33");
        assert_eq!(format_q(5), "0.005");
        assert_eq!(format_q(0), "0");
    }

    #[test]
    fn contact_header_lists_remaining_expiry_and_q() {
        let bs = [binding("sip:a@192.0.2.1", 1000, 160), binding("sip:a@192.0.2.2;transport=tcp", 500, 3700)];
        assert_eq!(
            contact_header_value(&bs, 100),
            "<sip:a@192.0.2.1>;expires=60, <sip:a@192.0.2.2;transport=tcp>;expires=3600;q=0.5"
        );
        assert_eq!(contact_header_value(Vec::<Binding>::new(), 0), "");
    }

    #[test]
    fn transport_tokens() {
        assert_eq!(Transport::parse("wss"), Some(Transport::Wss));
        assert_eq!(Transport::parse("SCTP"), None);
        assert!(Transport::Tls.is_stream() && !Transport::Udp.is_stream());
        assert_eq!(Transport::Tcp.to_string(), "TCP");
    }

    #[test]
    fn binding_stays_compact() {
        // The fixed part of a binding; strings come on top (see examples/memory.rs).
        assert!(std::mem::size_of::<Binding>() <= 160, "{}", std::mem::size_of::<Binding>());
    }
}
