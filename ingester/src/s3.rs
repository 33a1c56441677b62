//! S3 settings both the datastore source and the DuckLake data path follow:
//! which region and endpoint a configuration means, with the environment's
//! AWS variables as fallbacks, and when plain http is acceptable.

use std::net::IpAddr;

use url::Url;

/// Region used when neither the config nor the environment names one (the AWS SDKs' default).
pub const DEFAULT_REGION: &str = "us-east-1";

/// An S3 region: the configured one (checked), else `AWS_REGION` /
/// `AWS_DEFAULT_REGION` when valid, else `us-east-1`. Shared by the datastore
/// source and the DuckLake data path.
pub fn s3_region(configured: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    match configured {
        Some(r) => check_region(r).map(|()| r.to_string()),
        None => Ok(env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .filter(|r| check_region(r).is_ok())
            .unwrap_or_else(|| DEFAULT_REGION.to_string())),
    }
}

/// An S3-compatible endpoint: the configured one, else `AWS_ENDPOINT_URL_S3`
/// / `AWS_ENDPOINT_URL`; `None` for AWS itself. Plain http only to this
/// machine unless `allow_http`.
pub fn s3_endpoint(
    configured: Option<&str>,
    allow_http: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Url>, String> {
    if let Some(e) = configured {
        return parse_endpoint(e, allow_http).map(Some);
    }
    match ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"].iter().find_map(|v| Some((*v, env(v)?))) {
        Some((var, e)) => parse_endpoint(&e, allow_http).map(Some).map_err(|r| format!("(from {var}) {r}")),
        None => Ok(None),
    }
}

pub fn parse_endpoint(s: &str, allow_http: bool) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL ({e}); expected http(s)://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{s:?} is not an http(s)://host[:port] URL"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{s:?}: an endpoint takes no query, fragment or user info"));
    }
    if url.scheme() == "http" && !allow_http && !is_loopback(&url) {
        return Err(format!(
            "{s:?} is plain http to another machine, so requests would travel unencrypted; use https, or set allow_http: true"
        ));
    }
    Ok(url)
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_region(r: &str) -> Result<(), String> {
    if !r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(format!("{r:?} is not a region name such as us-east-2"))
    }
}
