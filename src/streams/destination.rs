//! Where a stream may deliver: http(s) URLs whose host is, or resolves to,
//! an address the [`AddressPolicy`](crate::domain::address_policy::AddressPolicy)
//! permits. Checked when a stream is created or changed; at delivery the
//! client's resolver applies the same policy to the addresses it dials
//! (`resolver`), and an address written in the URL is checked here again.

use std::net::IpAddr;

use reqwest::Url;

use super::resolver::Destinations;
use crate::error::{Error, Result};

/// A destination URL that parses, speaks http(s) and names a host.
pub fn parse(url: &str, path: &str) -> Result<Url> {
    let parsed = Url::parse(url.trim()).map_err(|e| Error::bad_input(path, format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::bad_input(path, "only http and https destinations are supported"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::bad_input(path, "the URL names no host"));
    }
    Ok(parsed)
}

/// The address written in `url`, when its host is one rather than a name
/// (such a host is dialled as written, without resolution).
pub fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Refuses a destination whose host is a refused address or resolves only to
/// refused ones. A name that does not resolve now passes: each delivery
/// resolves it again and fails while it resolves to no permitted address.
pub async fn check(url: &Url, path: &str, destinations: &Destinations) -> Result<()> {
    let refused = |what: String| {
        Error::bad_input(
            path,
            format!(
                "{what}: loopback, private, shared, link-local, unique-local, multicast and broadcast \
                 addresses are refused; the operator may allow a range with --allow-stream-destination"
            ),
        )
    };
    if let Some(ip) = literal_address(url) {
        return match destinations.policy.permits(ip) {
            true => Ok(()),
            false => Err(refused(format!("`{ip}` is not an allowed destination address"))),
        };
    }
    let host = url.host_str().unwrap_or_default().trim_end_matches('.');
    match destinations.resolve(host).await {
        Ok((found, permitted)) if !found.is_empty() && permitted.is_empty() => {
            Err(refused(format!("`{host}` resolves only to addresses that are not allowed")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address_policy::AddressPolicy;

    #[tokio::test]
    async fn refuses_literal_addresses_of_every_class_unless_allowed() {
        let destinations = Destinations::default();
        for url in [
            "http://169.254.169.254/latest",
            "http://127.0.0.1:5432/",
            "http://0.0.0.0/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            let parsed = parse(url, "url").unwrap();
            assert!(check(&parsed, "url", &destinations).await.is_err(), "{url} passed");
        }
        let allowing = Destinations {
            policy: AddressPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap()]),
            ..Destinations::default()
        };
        check(&parse("http://127.0.0.1:9/", "url").unwrap(), "url", &allowing).await.unwrap();
        check(&parse("http://[::ffff:127.0.0.1]:9/", "url").unwrap(), "url", &allowing).await.unwrap();
        assert!(check(&parse("http://[::1]/", "url").unwrap(), "url", &allowing).await.is_err());
    }

    #[tokio::test]
    async fn refuses_names_resolving_only_to_refused_addresses() {
        let destinations = Destinations::default();
        let localhost = parse("http://localhost:9/", "url").unwrap();
        assert!(check(&localhost, "url", &destinations).await.is_err());
    }

    #[test]
    fn refuses_other_schemes() {
        for url in ["ftp://x/", "file:///etc/passwd", "not a url", "http://"] {
            assert!(parse(url, "url").is_err(), "{url} parsed");
        }
    }
}
