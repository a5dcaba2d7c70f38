//! Which addresses count as one source.
//!
//! Exists because an IPv6 host normally controls a whole /64: keyed per address, an attacker
//! would get a fresh counter (and a free ban evasion) with every packet. This module must never
//! widen IPv4 addresses: NAT already puts many honest users behind one of them.

use std::net::{IpAddr, Ipv6Addr};

/// The key a source is counted under: IPv4 as is (IPv4-mapped IPv6 is unwrapped to IPv4),
/// IPv6 masked to its first `ipv6_prefix` bits (values above 128 act as 128).
pub fn source_key(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn ipv4_is_untouched() {
        assert_eq!(source_key(ip("192.0.2.7"), 64), ip("192.0.2.7"));
    }

    #[test]
    fn ipv6_is_masked_to_prefix() {
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64), ip("2001:db8:1:2::"));
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1"), 128), ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(source_key(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(source_key(ip("2001:db8::1"), 200), ip("2001:db8::1"));
    }

    #[test]
    fn mapped_ipv4_is_unwrapped() {
        assert_eq!(source_key(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
    }
}
