//! Where a stream may deliver: http(s) URLs whose host does not resolve to a
//! link-local or cloud-metadata address, unless the operator allows the host.
//! Checked when a stream is created and again before every delivery, since
//! what a name resolves to can change.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::{Error, Result};

/// Host names of cloud metadata services.
const METADATA_HOSTS: [&str; 1] = ["metadata.google.internal"];

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

/// Refuses a destination reaching a link-local or metadata address, unless its
/// host is in `allow_hosts`. A name that does not resolve now passes: delivery
/// checks it again and fails until it resolves to an allowed address.
pub async fn check(url: &Url, path: &str, allow_hosts: &[String]) -> Result<()> {
    let Some(host) = url.host_str() else {
        return Err(Error::bad_input(path, "the URL names no host"));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.');
    if allow_hosts.iter().any(|allowed| allowed.trim().eq_ignore_ascii_case(bare)) {
        return Ok(());
    }
    let refused = || {
        Error::bad_input(
            path,
            format!(
                "`{bare}` is a link-local or cloud-metadata address; the operator may allow it with --stream-allow-host"
            ),
        )
    };
    if METADATA_HOSTS.iter().any(|m| m.eq_ignore_ascii_case(bare)) {
        return Err(refused());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((bare, port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        },
    };
    if addresses.into_iter().any(forbidden) {
        return Err(refused());
    }
    Ok(())
}

/// Link-local (which holds 169.254.169.254) and the IPv6 metadata address.
fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.is_link_local();
            }
            let metadata: std::net::Ipv6Addr = "fd00:ec2::254".parse().expect("a valid address");
            (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == metadata
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_metadata_and_link_local_unless_allowed() {
        for url in [
            "http://169.254.169.254/latest",
            "http://169.254.1.2/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://metadata.google.internal/",
            "http://METADATA.google.internal./",
        ] {
            let parsed = parse(url, "url").unwrap();
            assert!(check(&parsed, "url", &[]).await.is_err(), "{url} passed");
        }
        let parsed = parse("http://169.254.169.254/", "url").unwrap();
        check(&parsed, "url", &["169.254.169.254".into()]).await.unwrap();
        for url in ["http://127.0.0.1:9/", "https://[::1]/x", "http://10.0.0.1/"] {
            check(&parse(url, "url").unwrap(), "url", &[]).await.unwrap();
        }
    }

    #[test]
    fn refuses_other_schemes() {
        for url in ["ftp://x/", "file:///etc/passwd", "not a url", "http://"] {
            assert!(parse(url, "url").is_err(), "{url} parsed");
        }
    }
}
