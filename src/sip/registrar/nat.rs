//! NAT detection and reachability for registrations (RFC 3581 `rport`/`received`,
//! RFC 3261 §18.2.2, RFC 1918 / RFC 6598 / RFC 4193 private ranges).
//!
//! Exists because most phones sit behind a NAT: the Contact they register names an address
//! nobody outside can reach, and only the public source address of the REGISTER (while the
//! NAT keeps the mapping open) gets requests back to them. This module decides, from the
//! top Via, the Contact and the real source, whether a binding is behind NAT and where to
//! send to it. It must never trust the Contact or Via over the observed source address, and
//! never do I/O (no DNS: a Contact with a domain name is left for RFC 3263 resolution).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::sip::msg::{Host, Uri, Via};

use super::binding::Transport;

/// The verdict on one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatAssessment {
    /// The Contact or Via disagrees with the source address, or names a private address
    /// while the source is public.
    pub behind_nat: bool,
    /// Where to send requests for this binding: the source address when behind NAT or on
    /// a stream transport (symmetric signalling, like `force_rport`), else the Contact's
    /// literal address; `None` when the Contact names a domain (resolve it per RFC 3263).
    pub reach: Option<SocketAddr>,
}

/// Assesses one Contact URI of a REGISTER that arrived from `source` with top Via `via`.
///
/// Ports are compared only for UDP: a TCP/TLS client's source port is ephemeral and never
/// equals its listening port, so only the address tells a NAT apart there.
pub fn assess(via: Option<&Via<'_>>, contact: &Uri<'_>, source: SocketAddr, transport: Transport) -> NatAssessment {
    let src_ip = source.ip().to_canonical();
    let compare_ports = !transport.is_stream();
    let contact_addr = contact.as_sip().and_then(|u| {
        let ip = host_ip(u.host())?;
        let default = if u.is_secure() || transport == Transport::Tls { 5061 } else { 5060 };
        Some(SocketAddr::new(ip, u.port().unwrap_or(default)))
    });
    let contact_differs = contact_addr
        .is_some_and(|a| a.ip() != src_ip || (compare_ports && a.port() != source.port()))
        || contact_addr.is_some_and(|a| is_private(a.ip()) && !is_private(src_ip));
    let via_differs = via.is_some_and(|v| {
        let ip_differs = host_ip(v.host()).is_some_and(|ip| ip != src_ip);
        let port_differs = compare_ports && v.port().unwrap_or(5060) != source.port();
        ip_differs || port_differs
    });
    let behind_nat = contact_differs || via_differs;
    let reach = if behind_nat || transport.is_stream() { Some(source) } else { contact_addr };
    NatAssessment { behind_nat, reach }
}

/// True for addresses that cannot be reached from the public internet: RFC 1918, RFC 6598
/// carrier-grade NAT, link-local, and IPv6 unique-local (fc00::/7) and link-local.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

fn host_ip(host: Host<'_>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a).to_canonical()),
        Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(via: &str, contact: &str, source: &str, t: Transport) -> NatAssessment {
        let via = Via::parse(via).unwrap();
        let uri = Uri::parse(contact).unwrap();
        assess(Some(&via), &uri, source.parse().unwrap(), t)
    }

    #[test]
    fn public_phone_is_not_behind_nat() {
        let a = check(
            "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa",
            "sip:a@198.51.100.7",
            "198.51.100.7:5060",
            Transport::Udp,
        );
        assert_eq!(a, NatAssessment { behind_nat: false, reach: Some("198.51.100.7:5060".parse().unwrap()) });
    }

    #[test]
    fn private_contact_from_public_source_is_behind_nat() {
        let a = check(
            "SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKa;rport",
            "sip:a@192.168.1.20:5060",
            "203.0.113.9:40001",
            Transport::Udp,
        );
        assert_eq!(a, NatAssessment { behind_nat: true, reach: Some("203.0.113.9:40001".parse().unwrap()) });
    }

    #[test]
    fn port_rewritten_by_nat_is_detected_for_udp_only() {
        let via = "SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKa";
        assert!(check(via, "sip:a@203.0.113.9:5060", "203.0.113.9:40001", Transport::Udp).behind_nat);
        let via = "SIP/2.0/TCP 203.0.113.9:5060;branch=z9hG4bKa";
        let a = check(via, "sip:a@203.0.113.9:5060;transport=tcp", "203.0.113.9:40001", Transport::Tcp);
        assert_eq!(a, NatAssessment { behind_nat: false, reach: Some("203.0.113.9:40001".parse().unwrap()) });
    }

    #[test]
    fn via_disagreeing_with_source_is_behind_nat_even_with_domain_contact() {
        let a = check(
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa",
            "sip:a@phone.example.com",
            "198.51.100.1:5060",
            Transport::Udp,
        );
        assert!(a.behind_nat);
        let a = check(
            "SIP/2.0/UDP phone.example.com;branch=z9hG4bKa",
            "sip:a@phone.example.com",
            "198.51.100.1:5060",
            Transport::Udp,
        );
        assert_eq!(a, NatAssessment { behind_nat: false, reach: None });
    }

    #[test]
    fn private_to_private_on_a_lan_is_not_nat() {
        let a =
            check("SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bKa", "sip:a@10.1.2.3:5062", "10.1.2.3:5062", Transport::Udp);
        assert!(!a.behind_nat);
        let a =
            check("SIP/2.0/UDP [fd00::5]:5060;branch=z9hG4bKa", "sip:a@[fd00::5]", "[fd00::5]:5060", Transport::Udp);
        assert!(!a.behind_nat);
        // Dual-stack sockets report IPv4 sources as IPv4-mapped IPv6.
        let a = check(
            "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKa",
            "sip:a@192.0.2.4",
            "[::ffff:192.0.2.4]:5060",
            Transport::Udp,
        );
        assert!(!a.behind_nat);
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.1.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "fd12::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_private("::ffff:10.0.0.1".parse().unwrap()));
    }
}
