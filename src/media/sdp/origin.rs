//! The `o=` line (RFC 8866 §5.2): who made the description and which version it is.
//!
//! Exists because RFC 3264 §8 hangs offer/answer on it: a new offer must carry the same
//! origin with a higher `sess-version`, and an unchanged description must keep its version.
//! This module only models and parses the line; the B2BUA's own origin per leg is kept by
//! [`super::OriginState`]. It must never guess a missing field.

use std::fmt;
use std::net::IpAddr;

use super::line::addr_type;

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The originator's login, `-` when none.
    pub username: String,
    /// A numeric id, kept as text: some stacks send more digits than a `u64` holds.
    pub sess_id: String,
    /// Incremented on each change (RFC 3264 §8).
    pub sess_version: u64,
    /// `IN` in practice.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The originator's address or host name, as written.
    pub address: String,
}

impl Origin {
    /// An `IN` origin for `ip`.
    pub fn new(username: &str, sess_id: u64, sess_version: u64, ip: IpAddr) -> Origin {
        Origin {
            username: username.into(),
            sess_id: sess_id.to_string(),
            sess_version,
            net_type: "IN".into(),
            addr_type: addr_type(ip).into(),
            address: ip.to_string(),
        }
    }

    pub(super) fn parse(value: &str) -> Result<Origin, &'static str> {
        let mut it = value.split_ascii_whitespace();
        let mut next = || it.next().ok_or("o= line has fewer than 6 fields");
        let (username, sess_id, version) = (next()?, next()?, next()?);
        let (net_type, addr_type, address) = (next()?, next()?, next()?);
        if it.next().is_some() {
            return Err("o= line has more than 6 fields");
        }
        if sess_id.is_empty() || !sess_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("o= sess-id is not numeric");
        }
        let sess_version = version.parse().map_err(|_| "o= sess-version is not a number")?;
        Ok(Origin {
            username: username.into(),
            sess_id: sess_id.into(),
            sess_version,
            net_type: net_type.into(),
            addr_type: addr_type.into(),
            address: address.into(),
        })
    }

    /// The address as an IP; `None` for a host name.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// Same session (RFC 8866 §5.2: every field but the version identifies it).
    pub fn same_session(&self, other: &Origin) -> bool {
        self.username == other.username
            && self.sess_id == other.sess_id
            && self.net_type == other.net_type
            && self.addr_type == other.addr_type
            && self.address == other.address
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Origin { username, sess_id, sess_version, net_type, addr_type, address } = self;
        write!(f, "{username} {sess_id} {sess_version} {net_type} {addr_type} {address}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let text = "- 3862119287 3862119288 IN IP4 192.0.2.1";
        let o = Origin::parse(text).unwrap();
        assert_eq!(o.username, "-");
        assert_eq!(o.sess_id, "3862119287");
        assert_eq!(o.sess_version, 3862119288);
        assert_eq!(o.ip(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(o.to_string(), text);
    }

    #[test]
    fn keeps_a_sess_id_longer_than_u64() {
        let o = Origin::parse("root 123456789012345678901234 1 IN IP6 2001:db8::1").unwrap();
        assert_eq!(o.sess_id, "123456789012345678901234");
        assert_eq!(o.addr_type, "IP6");
    }

    #[test]
    fn rejects_bad_fields() {
        assert_eq!(Origin::parse("- 1 2 IN IP4"), Err("o= line has fewer than 6 fields"));
        assert_eq!(Origin::parse("- 1 2 IN IP4 h x"), Err("o= line has more than 6 fields"));
        assert_eq!(Origin::parse("- abc 2 IN IP4 h"), Err("o= sess-id is not numeric"));
        assert_eq!(Origin::parse("- 1 -2 IN IP4 h"), Err("o= sess-version is not a number"));
    }

    #[test]
    fn same_session_ignores_the_version() {
        let a = Origin::new("pbx", 7, 1, "192.0.2.1".parse().unwrap());
        let b = Origin { sess_version: 9, ..a.clone() };
        assert!(a.same_session(&b));
        assert!(!a.same_session(&Origin { sess_id: "8".into(), ..b }));
    }
}
