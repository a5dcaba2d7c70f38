//! The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 rport; RFC 5118 IPv6).
//!
//! Exists because the transaction layer keys on the top Via's branch and sent-by, and the
//! transport layer answers to `received`/`rport`. Whitespace may surround `/`, `:`, `;`
//! and `=` (RFC 4475 §3.1.1.1). It must never reject an unknown transport token
//! (RFC 4475 §3.1.1.10): that is kept as [`Transport::Other`].

use std::fmt;
use std::net::IpAddr;

use super::error::{Invalid, ParseError};
use super::header::HeaderName;
use super::params::{Params, scan_header_params_with};
use super::scan::Cursor;
use super::uri::{Host, scan_host, scan_port};

/// RFC 3261 magic cookie that starts every RFC 3261 branch.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// The transport in `SIP/2.0/<transport>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(&'a str),
}

impl<'a> Transport<'a> {
    fn from_token(t: &'a str) -> Transport<'a> {
        const KNOWN: [(&str, Transport<'static>); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN.iter().find(|(k, _)| k.eq_ignore_ascii_case(t)).map_or(Transport::Other(t), |(_, v)| *v)
    }

    pub fn as_str(&self) -> &'a str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(t) => t,
        }
    }

    /// True for transports that need Content-Length framing.
    pub fn is_stream(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// One Via value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    protocol: &'a str,
    version: &'a str,
    transport: Transport<'a>,
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
    branch: Option<&'a str>,
}

impl<'a> Via<'a> {
    /// Parses one `via-parm`.
    pub fn parse(s: &'a str) -> Result<Via<'a>, ParseError> {
        scan_via(s).map_err(Invalid::header(HeaderName::Via))
    }

    /// `SIP` normally.
    pub fn protocol(&self) -> &'a str {
        self.protocol
    }
    /// `2.0` normally.
    pub fn version(&self) -> &'a str {
        self.version
    }
    pub fn transport(&self) -> Transport<'a> {
        self.transport
    }
    /// Sent-by host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }
    /// Sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }
    /// True when the branch starts with the magic cookie and has an identifier after it
    /// (RFC 4475 §3.2.1: a bare `z9hG4bK` is not an RFC 3261 transaction id).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
    /// The `received` address (brackets around IPv6 tolerated); `None` if absent or not
    /// an IP address.
    pub fn received(&self) -> Option<IpAddr> {
        let v = self.params.value("received")?;
        let v = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(v);
        v.parse().ok()
    }
    /// `rport`: `None` if absent, `Some(None)` if present without a value (RFC 3581).
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.find("rport")?;
        Some(p.value.and_then(|v| v.parse().ok()))
    }
    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }
}

fn scan_via(s: &str) -> Result<Via<'_>, Invalid> {
    let mut c = Cursor::new(s);
    c.skip_ws();
    let protocol = c.token()?;
    if !c.eat_sep(b'/') {
        return Err(Invalid);
    }
    let version = c.token()?;
    if !c.eat_sep(b'/') {
        return Err(Invalid);
    }
    let transport = Transport::from_token(c.token()?);
    if !c.skip_ws() {
        return Err(Invalid);
    }
    let host = scan_host(&mut c)?;
    let port = if c.eat_sep(b':') { Some(scan_port(&mut c)?) } else { None };
    let mut branch = None;
    let params = scan_header_params_with(&mut c, |n, v| {
        if branch.is_none() && n.eq_ignore_ascii_case("branch") {
            branch = v;
        }
    })?;
    c.expect_end()?;
    Ok(Via { protocol, version, transport, host, port, params, branch })
}

impl fmt::Display for Transport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints `SIP/2.0/UDP host:port;params` with whitespace removed.
impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{} {}", self.protocol, self.version, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        self.params.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_plain_via() {
        let v = Via::parse("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-1;rport").unwrap();
        assert_eq!(v.transport(), Transport::Udp);
        assert_eq!(v.host(), Host::Ipv4("127.0.0.1".parse().unwrap()));
        assert_eq!(v.port(), Some(5070));
        assert_eq!(v.branch(), Some("z9hG4bK-d87543-1"));
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.rport(), Some(None));
    }

    #[test]
    fn parse_tortuous_whitespace() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8").unwrap();
        assert_eq!((v.transport(), v.branch()), (Transport::Tcp, Some("z9hG4bK9ikj8")));
    }

    #[test]
    fn parse_ipv6_received_and_unknown_transport() {
        let v = Via::parse("SIP/2.0/UNKNOWN [2001:db8::9:1]:5060;received=[2001:db8::9:255];rport=5061").unwrap();
        assert_eq!(v.transport(), Transport::Other("UNKNOWN"));
        assert_eq!(v.host(), Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.received(), "2001:db8::9:255".parse().ok());
        assert_eq!(v.rport(), Some(Some(5061)));
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255").unwrap();
        assert_eq!(v.received(), "2001:db8::9:255".parse().ok());
    }

    #[test]
    fn reject_malformed_via() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse(";").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDPhost").is_err());
        assert!(Via::parse("SIP/2.0/UDP 2001:db8::1").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
    }

    #[test]
    fn print_normalised() {
        let v = Via::parse("SIP / 2.0 / TCP  h.example.com : 5060 ; branch = z9hG4bKx ; rport").unwrap();
        assert_eq!(v.to_string(), "SIP/2.0/TCP h.example.com:5060;branch=z9hG4bKx;rport");
        let v = Via::parse("SIP/2.0/TLS [::1];branch=z9hG4bKy").unwrap();
        assert_eq!(v.to_string(), "SIP/2.0/TLS [::1];branch=z9hG4bKy");
    }
}
