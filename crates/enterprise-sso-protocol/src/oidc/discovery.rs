//! OpenID Connect discovery documents, parsed and checked.

use serde::Deserialize;

use crate::limits::Policy;
use crate::url_policy::{check_fetch_url_kind, check_url_kind};

/// Largest discovery document accepted, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Larger than [`MAX_DISCOVERY_BYTES`].
    #[error("is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Not a JSON object of the expected shape.
    #[error("is not a JSON discovery document")]
    NotJson,
    /// Required members are missing.
    #[error("is missing {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// `issuer` does not match the discovery URL.
    #[error("names an issuer that does not match the discovery URL")]
    IssuerMismatch,
    /// An endpoint is not an acceptable https URL.
    #[error("has an endpoint `{0}` that is not an allowed https URL")]
    BadEndpoint(&'static str),
}

/// The endpoints the library uses from a discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// `issuer`, as the document gives it (see [`issuer_matches`]).
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`; absent only for a provider that supports the implicit flow alone.
    pub token_endpoint: Option<String>,
    /// `userinfo_endpoint`, which OpenID Connect Discovery only recommends (Apple has none).
    pub userinfo_endpoint: Option<String>,
    /// `jwks_uri`.
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Raw {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    #[serde(default)]
    response_types_supported: Vec<String>,
}

/// The issuer a discovery URL stands for: the URL without
/// `/.well-known/openid-configuration`, without a trailing slash.
pub fn issuer_of(discovery_url: &str) -> &str {
    let base = discovery_url
        .strip_suffix(WELL_KNOWN)
        .unwrap_or(discovery_url);
    base.trim_end_matches('/')
}

/// Whether a discovery document fetched from `discovery_url` may name `issuer`.
///
/// OpenID Connect Discovery 1.0 §4.3: the issuer is the discovery URL without
/// `/.well-known/openid-configuration`. It is compared exactly, except that the scheme and
/// host are compared case-insensitively (URLs are) and one trailing slash is ignored
/// (Auth0's issuers end with one). Two documented provider rules add the issuers that
/// differ from their discovery URL by design, and only for those providers' hosts:
///
/// - **Microsoft Entra ID** ([`microsoft_issuer_matches`]): the v2 endpoint by tenant GUID
///   or by tenant domain, the `common` / `organizations` / `consumers` endpoints (whose
///   issuer holds the literal `{tenantid}` template), v1 (issuer on `sts.windows.net`) and
///   External ID (`*.ciamlogin.com`).
/// - **Google**: the legacy scheme-less issuer `accounts.google.com` served at
///   `https://accounts.google.com/.well-known/openid-configuration`.
pub fn issuer_matches(issuer: &str, discovery_url: &str) -> bool {
    same_url(issuer, issuer_of(discovery_url))
        || microsoft_issuer_matches(issuer, discovery_url)
        || google_legacy_issuer(issuer, discovery_url)
}

/// Equal as URLs: scheme and authority case-insensitively, the rest exactly, one trailing
/// slash ignored on either side.
fn same_url(a: &str, b: &str) -> bool {
    fn split(u: &str) -> Option<(&str, &str, &str)> {
        let (scheme, rest) = u.split_once("://")?;
        let at = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(at);
        Some((scheme, authority, path.strip_suffix('/').unwrap_or(path)))
    }
    match (split(a), split(b)) {
        (Some((sa, ha, pa)), Some((sb, hb, pb))) => {
            sa.eq_ignore_ascii_case(sb) && ha.eq_ignore_ascii_case(hb) && pa == pb
        }
        _ => false,
    }
}

/// Microsoft's sign-in hosts (public, US government and China clouds). External ID
/// tenants sign in on `<tenant>.ciamlogin.com`.
const MICROSOFT_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
    "sts.chinacloudapi.cn",
];

/// The tenant template Entra's multi-tenant endpoints put in their issuer.
pub const ENTRA_TENANT_TEMPLATE: &str = "{tenantid}";

fn is_microsoft_host(host: &str) -> bool {
    MICROSOFT_HOSTS.contains(&host) || host.ends_with(".ciamlogin.com")
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The Microsoft Entra ID rule of [`issuer_matches`]. Both URLs are https on Microsoft's
/// hosts; the issuer's path is `/<tenant>/v2.0` for a v2 discovery URL (one whose path
/// holds `/v2.0/`) and `/<tenant>/` for v1; the issuer's tenant is a GUID or the
/// `{tenantid}` template. The template is accepted only from the `common`, `organizations`
/// and `consumers` endpoints; a GUID in the discovery URL must be the issuer's; a tenant
/// named by domain (`contoso.onmicrosoft.com`) may give any GUID. On `*.ciamlogin.com`
/// the issuer's host label is its tenant GUID.
pub fn microsoft_issuer_matches(issuer: &str, discovery_url: &str) -> bool {
    let (Ok(i), Ok(d)) = (url::Url::parse(issuer), url::Url::parse(discovery_url)) else {
        return false;
    };
    let (Some(ih), Some(dh)) = (i.host_str(), d.host_str()) else {
        return false;
    };
    if i.scheme() != "https" || d.scheme() != "https" || !is_microsoft_host(ih) {
        return false;
    }
    if !is_microsoft_host(dh) {
        return false;
    }
    let segments = |u: &url::Url| -> Vec<String> {
        u.path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let dseg = segments(&d);
    let iseg = segments(&i);
    let Some(d_tenant) = dseg.first() else {
        return false;
    };
    if !d.path().ends_with(WELL_KNOWN) {
        return false;
    }
    let d_v2 = dseg.iter().any(|s| s == "v2.0");
    // `url` percent-encodes the braces of the template.
    let i_tenant = match iseg.first().map(String::as_str) {
        Some("%7Btenantid%7D") => ENTRA_TENANT_TEMPLATE.to_owned(),
        Some(t) => t.to_owned(),
        None => return false,
    };
    let shape_ok = match iseg.len() {
        2 => d_v2 && iseg[1] == "v2.0",
        1 => !d_v2 && issuer.ends_with('/'),
        _ => false,
    };
    if !shape_ok {
        return false;
    }
    let multi = ["common", "organizations", "consumers"]
        .iter()
        .any(|m| d_tenant.eq_ignore_ascii_case(m));
    let tenant_ok = if i_tenant == ENTRA_TENANT_TEMPLATE {
        multi
    } else if !is_guid(&i_tenant) {
        false
    } else if is_guid(d_tenant) {
        d_tenant.eq_ignore_ascii_case(&i_tenant)
    } else {
        true
    };
    let ciam_ok = match ih.strip_suffix(".ciamlogin.com") {
        Some(label) => label.eq_ignore_ascii_case(&i_tenant),
        None => true,
    };
    tenant_ok && ciam_ok
}

fn google_legacy_issuer(issuer: &str, discovery_url: &str) -> bool {
    issuer == "accounts.google.com"
        && same_url(
            discovery_url,
            "https://accounts.google.com/.well-known/openid-configuration",
        )
}

/// Parses a discovery document fetched from `discovery_url` and checks it (OpenID Connect
/// Discovery 1.0): `issuer`, `authorization_endpoint` and `jwks_uri` are required,
/// `token_endpoint` too unless the provider supports only the implicit flow,
/// `userinfo_endpoint` is optional; the issuer matches ([`issuer_matches`]); the endpoints
/// are https (the server-fetched ones, token, userinfo and JWKS, also pass the fetch-URL
/// rule of `policy`).
pub fn parse_discovery(
    body: &[u8],
    discovery_url: &str,
    policy: &Policy,
) -> Result<Discovery, DiscoveryError> {
    if body.len() > MAX_DISCOVERY_BYTES {
        return Err(DiscoveryError::TooLarge {
            max: MAX_DISCOVERY_BYTES,
        });
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let raw: Raw = serde_json::from_slice(body).map_err(|_| DiscoveryError::NotJson)?;
    let implicit_only = !raw.response_types_supported.is_empty()
        && raw
            .response_types_supported
            .iter()
            .all(|t| !t.split_whitespace().any(|p| p == "code"));
    let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let issuer = present(raw.issuer);
    let authorization_endpoint = present(raw.authorization_endpoint);
    let token_endpoint = present(raw.token_endpoint);
    let userinfo_endpoint = present(raw.userinfo_endpoint);
    let jwks_uri = present(raw.jwks_uri);
    let mut missing = Vec::new();
    for (name, have) in [
        ("issuer", issuer.is_some()),
        ("authorization_endpoint", authorization_endpoint.is_some()),
        ("token_endpoint", token_endpoint.is_some() || implicit_only),
        ("jwks_uri", jwks_uri.is_some()),
    ] {
        if !have {
            missing.push(name);
        }
    }
    let (Some(issuer), Some(authorization_endpoint), Some(jwks_uri), true) =
        (issuer, authorization_endpoint, jwks_uri, missing.is_empty())
    else {
        return Err(DiscoveryError::MissingFields(missing));
    };
    if !issuer_matches(&issuer, discovery_url) {
        return Err(DiscoveryError::IssuerMismatch);
    }
    if check_url_kind(&authorization_endpoint).is_err() {
        return Err(DiscoveryError::BadEndpoint("authorization_endpoint"));
    }
    for (name, url) in [
        ("token_endpoint", token_endpoint.as_ref()),
        ("userinfo_endpoint", userinfo_endpoint.as_ref()),
        ("jwks_uri", Some(&jwks_uri)),
    ] {
        if let Some(url) = url {
            if check_fetch_url_kind(url, policy).is_err() {
                return Err(DiscoveryError::BadEndpoint(name));
            }
        }
    }
    Ok(Discovery {
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        jwks_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "6babcaad-604b-40ac-a9d7-9fd97c0b779f";

    #[test]
    fn microsoft_documented_forms() {
        let well = |base: &str| format!("{base}/.well-known/openid-configuration");
        let ok = [
            // v2 by tenant GUID, by tenant domain.
            (
                format!("https://login.microsoftonline.com/{G}/v2.0"),
                well(&format!("https://login.microsoftonline.com/{G}/v2.0")),
            ),
            (
                format!("https://login.microsoftonline.com/{G}/v2.0"),
                well("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
            ),
            // Multi-tenant endpoints: the template.
            (
                "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                well("https://login.microsoftonline.com/common/v2.0"),
            ),
            (
                "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                well("https://login.microsoftonline.com/organizations/v2.0"),
            ),
            (
                format!("https://login.microsoftonline.com/{G}/v2.0"),
                well("https://login.microsoftonline.com/consumers/v2.0"),
            ),
            // v1.
            (
                format!("https://sts.windows.net/{G}/"),
                well(&format!("https://login.microsoftonline.com/{G}")),
            ),
            (
                "https://sts.windows.net/{tenantid}/".into(),
                well("https://login.microsoftonline.com/common"),
            ),
            // External ID.
            (
                format!("https://{G}.ciamlogin.com/{G}/v2.0"),
                well("https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0"),
            ),
        ];
        for (issuer, url) in &ok {
            assert!(issuer_matches(issuer, url), "{issuer} from {url}");
        }
        let other = "00000000-1111-2222-3333-444444444444";
        let bad = [
            // Another tenant's GUID.
            (
                format!("https://login.microsoftonline.com/{other}/v2.0"),
                well(&format!("https://login.microsoftonline.com/{G}/v2.0")),
            ),
            // The template from a single-tenant endpoint.
            (
                "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                well(&format!("https://login.microsoftonline.com/{G}/v2.0")),
            ),
            // Version mismatch.
            (
                format!("https://sts.windows.net/{G}/"),
                well(&format!("https://login.microsoftonline.com/{G}/v2.0")),
            ),
            // Not a GUID, not the template.
            (
                "https://login.microsoftonline.com/evil/v2.0".into(),
                well("https://login.microsoftonline.com/common/v2.0"),
            ),
            // Not Microsoft's hosts: the rule is not loosened for everyone.
            (
                format!("https://login.evil.com/{G}/v2.0"),
                well("https://login.microsoftonline.com/common/v2.0"),
            ),
            (
                "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                well("https://idp.example.com/common/v2.0"),
            ),
            // ciamlogin host label must be the tenant.
            (
                format!("https://{other}.ciamlogin.com/{G}/v2.0"),
                well("https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0"),
            ),
            (
                "http://login.microsoftonline.com/{tenantid}/v2.0".into(),
                well("https://login.microsoftonline.com/common/v2.0"),
            ),
        ];
        for (issuer, url) in &bad {
            assert!(!issuer_matches(issuer, url), "{issuer} from {url}");
        }
    }

    #[test]
    fn exact_but_case_insensitive_scheme_and_host() {
        let url = "https://adfs.contoso.com/adfs/.well-known/openid-configuration";
        assert!(issuer_matches("https://ADFS.Contoso.com/adfs", url));
        assert!(issuer_matches("HTTPS://adfs.contoso.com/adfs/", url));
        assert!(
            !issuer_matches("https://adfs.contoso.com/ADFS", url),
            "paths are exact"
        );
        assert!(!issuer_matches("https://adfs.contoso.com/adfs/x", url));
        assert!(!issuer_matches("https://evil.com/adfs", url));
        assert!(issuer_matches(
            "accounts.google.com",
            "https://accounts.google.com/.well-known/openid-configuration"
        ));
        assert!(!issuer_matches(
            "accounts.google.com",
            "https://evil.com/.well-known/openid-configuration"
        ));
        assert!(!issuer_matches(
            "evil.com",
            "https://evil.com/.well-known/openid-configuration"
        ));
    }
}
