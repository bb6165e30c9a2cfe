//! Which network addresses an event stream may deliver to. A tenant's key
//! chooses the URL, the server makes the connection: refused by default are the
//! addresses that reach the operator's own network or the host itself
//! (loopback, unspecified, private, shared, link-local with the cloud-metadata
//! address, unique-local, multicast, broadcast), also when written as
//! IPv4-mapped, IPv4-compatible or NAT64 IPv6. The operator allows ranges.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The ranges an operator allows on top of the public internet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// A policy allowing `ranges` too.
    pub fn allowing(ranges: Vec<IpNet>) -> AddressPolicy {
        AddressPolicy { allowed: ranges.into_iter().map(|net| net.trunc()).collect() }
    }

    /// Whether a stream may connect to `ip`: a public address, or one in an
    /// allowed range (an IPv6 form embedding an IPv4 address is judged by it).
    pub fn permits(&self, ip: IpAddr) -> bool {
        let embedded = embedded_v4(ip);
        let allowed = |ip: IpAddr| self.allowed.iter().any(|net| net.contains(&ip));
        if allowed(ip) || embedded.is_some_and(|v4| allowed(IpAddr::V4(v4))) {
            return true;
        }
        match (ip, embedded) {
            (_, Some(v4)) | (IpAddr::V4(v4), None) => !refused_v4(v4),
            (IpAddr::V6(v6), None) => !refused_v6(v6),
        }
    }
}

/// A range as the operator writes it: CIDR (`10.0.0.0/8`, `fd00::/8`) or
/// one address.
pub fn parse_range(text: &str) -> std::result::Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8 or fd00::/8"))
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// NAT64 (`64:ff9b::a.b.c.d`) and the deprecated IPv4-compatible form
/// (`::a.b.c.d`, other than `::` and `::1`).
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    let compatible = s[..6].iter().all(|&x| x == 0) && !(s[6] == 0 && s[7] <= 1);
    (nat64 || compatible).then_some(tail)
}

fn refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // 0.0.0.0/8, the unspecified address among them
        || ip.is_loopback()
        || ip.is_private()
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10, shared (carrier-grade NAT)
        || ip.is_link_local() // 169.254.0.0/16, cloud metadata at 169.254.169.254
        || ip.is_multicast()
        || ip.is_broadcast()
}

fn refused_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // fc00::/7, unique local (fd00:ec2::254 is a metadata address)
        || (first & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || ip.is_multicast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const REFUSED: [&str; 24] = [
        "127.0.0.1",
        "127.255.0.9",
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.255",
        "169.254.169.254",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.1.2.3",
        "64:ff9b::7f00:1",
        "::127.0.0.1",
    ];

    #[test]
    fn refuses_every_class_in_both_forms() {
        let policy = AddressPolicy::default();
        for refused in REFUSED {
            assert!(!policy.permits(ip(refused)), "{refused} permitted");
        }
        for public in [
            "93.184.216.34",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
        ] {
            assert!(policy.permits(ip(public)), "{public} refused");
        }
    }

    #[test]
    fn allowed_ranges_cover_their_mapped_forms() {
        let ranges = ["127.0.0.0/8", "fd00::/8", "10.1.2.3"].map(|r| parse_range(r).unwrap());
        let policy = AddressPolicy::allowing(ranges.to_vec());
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(policy.permits(ip("fd00:ec2::254")));
        assert!(policy.permits(ip("10.1.2.3")));
        assert!(!policy.permits(ip("10.1.2.4")));
        assert!(!policy.permits(ip("169.254.169.254")));
        assert!(!policy.permits(ip("::1")));
    }

    #[test]
    fn ranges_parse_or_say_why_not() {
        assert_eq!(parse_range(" 10.0.0.0/8 ").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_range("::1").unwrap().to_string(), "::1/128");
        assert!(parse_range("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
    }
}
