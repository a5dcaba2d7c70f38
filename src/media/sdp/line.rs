//! One SDP line below `v=`/`o=`/`s=`: a connection, an attribute, or anything else verbatim.
//!
//! Exists so a parsed description keeps every line in its original order and prints back as
//! it came (RFC 8866 §5): only `c=` and `a=` get a typed form, because those are what the
//! B2BUA reads and rewrites; `i= u= e= p= b= t= r= z= k=` and unknown letters stay text.
//! It must never drop or reorder a line it does not understand.

use std::fmt;
use std::net::IpAddr;

/// A line of a session or media section, in the order received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Line {
    /// `c=<nettype> <addrtype> <address>`.
    Connection(Connection),
    /// `a=<name>` or `a=<name>:<value>`.
    Attribute(Attribute),
    /// Any other line, kept verbatim: `kind` is the letter before `=`.
    Other {
        /// The type letter, e.g. `'t'` or `'b'`.
        kind: char,
        /// Everything after `=`.
        value: String,
    },
}

impl Line {
    /// Parses the value of a line whose type letter is `kind`; the error names the defect.
    pub(super) fn parse(kind: char, value: &str) -> Result<Line, &'static str> {
        Ok(match kind {
            'c' => Line::Connection(Connection::parse(value).ok_or("malformed c= line")?),
            'a' => Line::Attribute(Attribute::parse(value)),
            _ => Line::Other { kind, value: value.to_owned() },
        })
    }

    /// The type letter.
    pub fn kind(&self) -> char {
        match self {
            Line::Connection(_) => 'c',
            Line::Attribute(_) => 'a',
            Line::Other { kind, .. } => *kind,
        }
    }

    /// The attribute, if this is an `a=` line.
    pub fn attribute(&self) -> Option<&Attribute> {
        match self {
            Line::Attribute(a) => Some(a),
            _ => None,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Connection(c) => write!(f, "c={c}"),
            Line::Attribute(a) => write!(f, "a={a}"),
            Line::Other { kind, value } => write!(f, "{kind}={value}"),
        }
    }
}

/// Connection data (RFC 8866 §5.7): where media is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// `IN` in practice.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address as written, with any multicast `/ttl/count` suffix; may be a host name.
    pub address: String,
}

impl Connection {
    /// `IN IP4 <ip>` or `IN IP6 <ip>`.
    pub fn new(ip: IpAddr) -> Connection {
        Connection { net_type: "IN".into(), addr_type: addr_type(ip).into(), address: ip.to_string() }
    }

    fn parse(value: &str) -> Option<Connection> {
        let mut it = value.split_ascii_whitespace();
        let (net_type, addr_type, address) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        Some(Connection { net_type: net_type.into(), addr_type: addr_type.into(), address: address.into() })
    }

    /// The address as an IP, without a multicast suffix; `None` for a host name.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next()?.parse().ok()
    }

    /// `c=IN IP4 0.0.0.0` (or `::`): the RFC 2543 way to put a call on hold.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

/// The SDP address type of an IP: `IP4` or `IP6`.
pub(super) fn addr_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// An attribute (RFC 8866 §5.13), typed views of which live in [`super::attr`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The name before `:`, e.g. `rtpmap`.
    pub name: String,
    /// The text after the first `:`, verbatim; `None` for a property attribute like `sendrecv`.
    pub value: Option<String>,
}

impl Attribute {
    /// `a=<name>:<value>`.
    pub fn new(name: &str, value: impl Into<String>) -> Attribute {
        Attribute { name: name.into(), value: Some(value.into()) }
    }

    /// `a=<name>`.
    pub fn flag(name: &str) -> Attribute {
        Attribute { name: name.into(), value: None }
    }

    fn parse(value: &str) -> Attribute {
        match value.split_once(':') {
            Some((name, v)) => Attribute { name: name.into(), value: Some(v.into()) },
            None => Attribute { name: value.into(), value: None },
        }
    }

    /// Case-sensitive name test (RFC 8866 attribute names are case-sensitive in practice).
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The value, or `""` for a property attribute.
    pub fn text(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_parses_v4_v6_multicast_and_hostnames() {
        let Ok(Line::Connection(c)) = Line::parse('c', "IN IP4 192.0.2.10") else { panic!("not a connection") };
        assert_eq!(c.ip(), Some("192.0.2.10".parse().unwrap()));
        let Ok(Line::Connection(c)) = Line::parse('c', "IN IP6 2001:db8::1") else { panic!("not a connection") };
        assert_eq!(c.ip(), Some("2001:db8::1".parse().unwrap()));
        let Ok(Line::Connection(c)) = Line::parse('c', "IN IP4 224.2.1.1/127/3") else { panic!("not a connection") };
        assert_eq!(c.ip(), Some("224.2.1.1".parse().unwrap()));
        assert_eq!(c.to_string(), "IN IP4 224.2.1.1/127/3");
        let Ok(Line::Connection(c)) = Line::parse('c', "IN IP4 media.example.com") else { panic!("not a connection") };
        assert_eq!(c.ip(), None);
    }

    #[test]
    fn malformed_connection_is_an_error() {
        assert_eq!(Line::parse('c', "IN IP4"), Err("malformed c= line"));
        assert_eq!(Line::parse('c', "IN IP4 1.2.3.4 extra"), Err("malformed c= line"));
    }

    #[test]
    fn unspecified_address_is_rfc2543_hold() {
        assert!(Connection::new("0.0.0.0".parse().unwrap()).is_unspecified());
        assert!(!Connection::new("192.0.2.1".parse().unwrap()).is_unspecified());
        assert_eq!(Connection::new("2001:db8::5".parse().unwrap()).to_string(), "IN IP6 2001:db8::5");
    }

    #[test]
    fn attributes_split_at_the_first_colon_and_print_back() {
        for text in ["rtpmap:0 PCMU/8000", "sendrecv", "fingerprint:sha-256 AB:CD:EF", "x-empty:", "candidate:1 1 udp"]
        {
            let line = Line::parse('a', text).unwrap();
            assert_eq!(line.to_string(), format!("a={text}"));
        }
        let a = Attribute::parse("fingerprint:sha-256 AB:CD");
        assert_eq!((a.name.as_str(), a.text()), ("fingerprint", "sha-256 AB:CD"));
    }

    #[test]
    fn other_lines_are_verbatim() {
        let line = Line::parse('b', "AS:  64 ").unwrap();
        assert_eq!(line.kind(), 'b');
        assert_eq!(line.to_string(), "b=AS:  64 ");
    }
}
