//! Name resolution for deliveries that checks what it answers: the addresses
//! a host name resolves to are filtered by the [`AddressPolicy`] in the same
//! step that hands them to the connector, so the connection goes only to an
//! address that passed. A name checked once and resolved again later (DNS
//! rebinding: a public address for the check, 169.254.169.254 a moment after)
//! has no second resolution to slip through.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::address_policy::AddressPolicy;

/// How host names become addresses: the system's resolver, or in tests one
/// that answers what the test says.
pub trait HostLookup: Send + Sync + fmt::Debug {
    fn lookup(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`).
#[derive(Debug)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_string();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// Where streams may deliver: the address policy and the resolver names go through.
#[derive(Clone, Debug)]
pub struct Destinations {
    pub policy: AddressPolicy,
    pub lookup: Arc<dyn HostLookup>,
}

impl Default for Destinations {
    fn default() -> Self {
        Destinations { policy: AddressPolicy::default(), lookup: Arc::new(SystemLookup) }
    }
}

impl Destinations {
    /// The addresses `host` resolves to now, and those of them the policy permits.
    pub async fn resolve(&self, host: &str) -> std::io::Result<(Vec<IpAddr>, Vec<IpAddr>)> {
        let found = self.lookup.lookup(host).await?;
        let permitted = found.iter().copied().filter(|ip| self.policy.permits(*ip)).collect();
        Ok((found, permitted))
    }
}

/// The error of a name that resolved only to refused addresses.
#[derive(Debug)]
pub struct AddressRefused;

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("destination address not allowed")
    }
}

impl std::error::Error for AddressRefused {}

/// Whether `err`, or an error it was caused by, is an [`AddressRefused`].
pub fn refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<AddressRefused>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The resolver of the delivery client.
pub struct CheckedResolver(pub Destinations);

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let destinations = self.0.clone();
        Box::pin(async move {
            let (_, permitted) = destinations.resolve(name.as_str()).await?;
            if permitted.is_empty() {
                return Err(Box::new(AddressRefused) as Box<dyn std::error::Error + Send + Sync>);
            }
            // The connector sets the port.
            let addrs: Addrs = Box::new(permitted.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
