//! Transaction keys: how a message finds its transaction (RFC 3261 §17.1.3, §17.2.3, §9.2).
//!
//! Exists so matching is one hash lookup. A server key is the top Via branch (with the
//! magic cookie), its sent-by and the method, ACK counting as INVITE; a request whose
//! branch lacks the cookie gets the RFC 2543 key (Request-URI, To tag, From tag, Call-ID,
//! CSeq number, top Via). A client key is the branch and the CSeq method. Keys own their
//! text (a transaction outlives the message that created it). This module must never
//! decide what a match means: it only computes keys.

use std::fmt;

use super::error::TxnError;
use crate::sip::msg::Host;
use crate::sip::msg::Message;
use crate::sip::msg::Method;
use crate::sip::msg::ParseError;

/// Which side of the transaction this element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the request.
    Client,
    /// We received the request.
    Server,
}

/// Identifies one transaction inside a [`super::TxnLayer`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxnKey {
    role: Role,
    method: Box<str>,
    id: KeyId,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    /// RFC 3261: branch, plus the top Via sent-by on the server side.
    Branch { branch: Box<str>, sent_by: Box<str> },
    /// RFC 2543 fallback for branches without the magic cookie.
    Legacy(Box<LegacyId>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LegacyId {
    request_uri: Box<str>,
    to_tag: Option<Box<str>>,
    from_tag: Option<Box<str>>,
    call_id: Box<str>,
    cseq: u32,
    top_via: Box<str>,
}

/// Which To tag an RFC 2543 key uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToTag {
    /// The tag in the message's To header.
    Message,
    /// No tag: an ACK looking for the INVITE it acknowledges, which had none.
    Absent,
}

impl TxnKey {
    /// The client key of a request we send: top Via branch (which must carry the magic
    /// cookie) and the CSeq method.
    pub(crate) fn client_request(msg: &Message) -> Result<TxnKey, TxnError> {
        let via = msg.top_via()?;
        if !via.has_rfc3261_branch() {
            return Err(TxnError::NoBranch);
        }
        Self::client(msg)
    }

    /// The client key a response matches (§17.1.3): top Via branch and CSeq method.
    pub(crate) fn client(msg: &Message) -> Result<TxnKey, TxnError> {
        let via = msg.top_via()?;
        let branch = via.branch().ok_or(TxnError::NoBranch)?;
        let cseq = msg.cseq()?;
        Ok(TxnKey {
            role: Role::Client,
            method: cseq.method.as_str().into(),
            id: KeyId::Branch { branch: branch.into(), sent_by: "".into() },
        })
    }

    /// The server key of a received request (§17.2.3); ACK is keyed as the INVITE it
    /// acknowledges.
    pub(crate) fn server(msg: &Message) -> Result<TxnKey, ParseError> {
        let method = match msg.method() {
            Some(Method::Ack) => Method::Invite,
            Some(m) => m,
            None => return Err(ParseError::StartLine),
        };
        Self::server_as(msg, method, ToTag::Message)
    }

    /// The server key `msg` would have if its method were `method` (CANCEL looking for
    /// its INVITE, §9.2), with the To tag chosen by `to_tag` for RFC 2543 keys.
    pub(crate) fn server_as(msg: &Message, method: Method<'_>, to_tag: ToTag) -> Result<TxnKey, ParseError> {
        let via = msg.top_via()?;
        let id = match via.branch() {
            Some(branch) if via.has_rfc3261_branch() => {
                KeyId::Branch { branch: branch.into(), sent_by: sent_by_key(via.host(), via.port()) }
            }
            _ => {
                let to_tag = match to_tag {
                    ToTag::Message => msg.to()?.tag().map(Into::into),
                    ToTag::Absent => None,
                };
                KeyId::Legacy(Box::new(LegacyId {
                    request_uri: msg.request_uri_str().ok_or(ParseError::StartLine)?.into(),
                    to_tag,
                    from_tag: msg.from()?.tag().map(Into::into),
                    call_id: msg.call_id()?.into(),
                    cseq: msg.cseq()?.seq,
                    top_via: via.to_string().into(),
                }))
            }
        };
        Ok(TxnKey { role: Role::Server, method: method.as_str().into(), id })
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The method of the request that created the transaction.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The Via branch; `None` for an RFC 2543 key.
    pub fn branch(&self) -> Option<&str> {
        match &self.id {
            KeyId::Branch { branch, .. } => Some(branch),
            KeyId::Legacy(_) => None,
        }
    }

    /// True for an RFC 2543 key (the request's branch had no magic cookie).
    pub fn is_rfc2543(&self) -> bool {
        matches!(self.id, KeyId::Legacy(_))
    }
}

/// `client INVITE z9hG4bK776` / `server INVITE rfc2543 call-id 1`: for logs.
impl fmt::Display for TxnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Client => "client",
            Role::Server => "server",
        };
        match &self.id {
            KeyId::Branch { branch, .. } => write!(f, "{role} {} {branch}", self.method),
            KeyId::Legacy(l) => write!(f, "{role} {} rfc2543 {} {}", self.method, l.call_id, l.cseq),
        }
    }
}

/// The sent-by part of a server key: the host in lower case, then `:port` when written. Built
/// by hand because it runs for every request received, and `format!` showed in profiles.
fn sent_by_key(host: Host<'_>, port: Option<u16>) -> Box<str> {
    let mut key = String::with_capacity(48);
    match host {
        Host::Domain(domain) => key.extend(domain.chars().map(|c| c.to_ascii_lowercase())),
        Host::Ipv4(address) => {
            for (i, octet) in address.octets().into_iter().enumerate() {
                if i > 0 {
                    key.push('.');
                }
                push_decimal(&mut key, octet.into());
            }
        }
        Host::Ipv6(_) => {
            use std::fmt::Write;
            let _ = write!(key, "{host}");
        }
    }
    if let Some(port) = port {
        key.push(':');
        push_decimal(&mut key, port.into());
    }
    key.into_boxed_str()
}

fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::msg::Limits;
    use crate::sip::msg::parse_datagram;

    fn msg(start: &str, via: &str, cseq: &str, to: &str) -> Message {
        let raw = format!(
            "{start}\r\nVia: {via}\r\nFrom: <sip:a@a.example>;tag=f1\r\nTo: {to}\r\n\
Call-ID: c1@a.example\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        );
        parse_datagram(Bytes::from(raw), &Limits::default()).unwrap()
    }

    const INVITE: &str = "INVITE sip:b@b.example SIP/2.0";

    #[test]
    fn ack_and_invite_share_a_server_key_cancel_does_not() {
        let via = "SIP/2.0/UDP A.example:5060;branch=z9hG4bK1";
        let invite = msg(INVITE, via, "1 INVITE", "<sip:b@b.example>");
        let ack = msg("ACK sip:b@b.example SIP/2.0", via, "1 ACK", "<sip:b@b.example>;tag=t");
        let cancel = msg("CANCEL sip:b@b.example SIP/2.0", via, "1 CANCEL", "<sip:b@b.example>");
        let k = TxnKey::server(&invite).unwrap();
        assert_eq!(TxnKey::server(&ack).unwrap(), k);
        assert_ne!(TxnKey::server(&cancel).unwrap(), k);
        assert_eq!(TxnKey::server_as(&cancel, Method::Invite, ToTag::Message).unwrap(), k);
        assert_eq!(k.to_string(), "server INVITE z9hG4bK1");
    }

    #[test]
    fn sent_by_key_is_the_host_in_lower_case_and_the_port() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        assert_eq!(&*sent_by_key(Host::Domain("PBX.Example.COM"), Some(5060)), "pbx.example.com:5060");
        assert_eq!(&*sent_by_key(Host::Ipv4(Ipv4Addr::new(10, 0, 200, 9)), None), "10.0.200.9");
        assert_eq!(&*sent_by_key(Host::Ipv4(Ipv4Addr::UNSPECIFIED), Some(0)), "0.0.0.0:0");
        assert_eq!(&*sent_by_key(Host::Ipv6(Ipv6Addr::LOCALHOST), Some(65535)), "[::1]:65535");
    }

    #[test]
    fn sent_by_is_part_of_the_server_key() {
        let a = msg(INVITE, "SIP/2.0/UDP a.example;branch=z9hG4bK1", "1 INVITE", "<sip:b@b.example>");
        let b = msg(INVITE, "SIP/2.0/UDP evil.example;branch=z9hG4bK1", "1 INVITE", "<sip:b@b.example>");
        assert_ne!(TxnKey::server(&a).unwrap(), TxnKey::server(&b).unwrap());
    }

    #[test]
    fn branch_without_cookie_gets_rfc2543_key() {
        let via = "SIP/2.0/UDP a.example;branch=old1";
        let invite = msg(INVITE, via, "7 INVITE", "<sip:b@b.example>");
        let k = TxnKey::server(&invite).unwrap();
        assert!(k.is_rfc2543());
        assert_eq!(k.branch(), None);
        let ack = msg("ACK sip:b@b.example SIP/2.0", via, "7 ACK", "<sip:b@b.example>;tag=t");
        assert_ne!(TxnKey::server(&ack).unwrap(), k, "the ACK's To tag is the response's");
        assert_eq!(TxnKey::server_as(&ack, Method::Invite, ToTag::Absent).unwrap(), k);
        let other_cseq = msg(INVITE, via, "8 INVITE", "<sip:b@b.example>");
        assert_ne!(TxnKey::server(&other_cseq).unwrap(), k);
    }

    #[test]
    fn client_key_needs_cookie_for_requests_only() {
        let req = msg(INVITE, "SIP/2.0/UDP a.example;branch=nocookie", "1 INVITE", "<sip:b@b.example>");
        assert_eq!(TxnKey::client_request(&req), Err(TxnError::NoBranch));
        let k = TxnKey::client(&req).unwrap();
        assert_eq!((k.role(), k.method(), k.branch()), (Role::Client, "INVITE", Some("nocookie")));
    }
}
