//! The one place where create and update parameters become a connection.

use crate::cert_set::{none_valid, primary, IdpCertificate, NoneValid};
use crate::connection::{
    attribute_mapping_fields, connection_fields, oidc_fields, saml_fields, AttributeMapping,
    EnterpriseConnection, OidcConfig, ProtocolConfig, SamlConfig,
};
use crate::domain::Domain;
use crate::fields::plain_only;
use crate::ids::ConnectionId;
use crate::limits::{MAX_CERTIFICATE_LEN, MAX_DOMAINS, MAX_METADATA_LEN};
use crate::millis::UnixMillis;
use crate::patch::{
    AttributeMappingPatch, CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection,
};
use crate::provider::Protocol;
use crate::saml::{
    parse_certificates, parse_metadata_for, Certificate, MAX_CERTIFICATES_PER_FIELD,
};
use crate::url_policy::canonical_url;
use crate::validate::{validate_with, FieldError, FieldErrorKind, ValidationErrors};
use crate::Policy;

/// Applies `patch` to `current` and validates the result.
///
/// Rules: an absent field keeps its value, `null` clears a nullable field (and is an error
/// on the others), a value sets it; `oidc` and `saml` merge field by field; `domains`
/// replaces the list (normalised, duplicates dropped). A provider of the other protocol
/// needs that protocol's block in the same patch and drops the old configuration.
///
/// SAML inputs are read here too (see [`merge_with`] for the rules).
///
/// On success the result has `version + 1` and `updated_at = max(now, current.updated_at)`.
/// On failure every problem is returned, each with its field path. Pure: no I/O.
/// Uses the default [`Policy`].
///
/// ```
/// use enterprise_sso::{merge, build, CreateConnection, ConnectionId, Provider, UpdateConnection, Patch};
/// let conn = build(&CreateConnection::new(Provider::SamlCustom, "Acme"), ConnectionId::generate(), 1_000).unwrap();
/// let patch = UpdateConnection { name: Patch::Value("Acme Corp".into()), ..Default::default() };
/// let next = merge(&conn, &patch, 2_000).unwrap();
/// assert_eq!((next.name.as_str(), next.version, next.updated_at.get()), ("Acme Corp", 2, 2_000));
/// ```
pub fn merge(
    current: &EnterpriseConnection,
    patch: &UpdateConnection,
    now: i64,
) -> Result<EnterpriseConnection, ValidationErrors> {
    merge_with(current, patch, now, &Policy::default())
}

/// [`merge`] under a [`Policy`].
///
/// SAML inputs, on the merged result:
/// - `idp_metadata` is parsed ([`crate::saml::parse_metadata_for`], an aggregate's IdP
///   entity chosen by `idp_entity_id`). `idp_entity_id`, `idp_sso_url` and certificates
///   that the same patch sets explicitly must agree with it (the entity id equal, the SSO
///   URL one of its locations, each certificate one of its signing certificates), else
///   `DisagreesWithMetadata`. The entity id and SSO URL not set explicitly keep their value
///   when it agrees with the metadata, and are (re)filled from it otherwise (the
///   HTTP-Redirect SSO URL, else HTTP-POST). The certificate set is the metadata's signing
///   certificates, every one of them.
/// - Without metadata, `idp_certificate` (one or more PEM blocks, or base64 DER) and
///   `idp_certificates` (a list of such) set the certificate set, both together when both
///   are given; each is parsed as X.509 and stored as canonical PEM with its window.
/// - `idp_certificate` and its `_issued_at` / `_expires_at` show the set's primary
///   certificate at `now` ([`crate::IdpCertificate::primary_of`]).
/// - A connection that is active after the update is refused when no certificate of its
///   set is valid at `now` (`CertificateExpired`, or `CertificateNotYetValid`) and the
///   update activates it or changes its set (edits of an already active connection are not
///   blocked, so its owner can still act on a renewal reminder).
pub fn merge_with(
    current: &EnterpriseConnection,
    patch: &UpdateConnection,
    now: i64,
    policy: &Policy,
) -> Result<EnterpriseConnection, ValidationErrors> {
    let mut errs = Vec::new();
    let mut next = current.clone();

    apply_connection(&mut next, patch, &mut errs);

    match &patch.provider {
        Patch::Absent => {}
        Patch::Null => errs.push(FieldError::new("provider", FieldErrorKind::NotNullable)),
        Patch::Value(p) => {
            let protocol = p.protocol();
            if protocol != current.protocol() {
                let (block, given) = match protocol {
                    Protocol::Saml => ("saml", !patch.saml.is_absent()),
                    Protocol::Oauth => ("oidc", !patch.oidc.is_absent()),
                };
                if !given {
                    errs.push(FieldError::new(block, FieldErrorKind::Required));
                }
                next.config = ProtocolConfig::empty(protocol);
            }
            next.provider = *p;
        }
    }

    match &patch.domains {
        Patch::Absent => {}
        Patch::Null => errs.push(FieldError::new("domains", FieldErrorKind::NotNullable)),
        Patch::Value(list) => next.domains = normalize_domains(list, &mut errs),
    }

    match (&patch.oidc, &mut next.config) {
        (Patch::Absent, _) => {}
        (Patch::Null, _) => errs.push(FieldError::new("oidc", FieldErrorKind::NotNullable)),
        (Patch::Value(p), ProtocolConfig::Oidc(c)) => apply_oidc(c, p, &mut errs),
        (Patch::Value(_), ProtocolConfig::Saml(_)) => errs.push(FieldError::new(
            "oidc",
            FieldErrorKind::NotAllowedForProvider(next.provider),
        )),
    }
    match (&patch.saml, &mut next.config) {
        (Patch::Absent, _) => {}
        (Patch::Null, _) => errs.push(FieldError::new("saml", FieldErrorKind::NotNullable)),
        (Patch::Value(p), ProtocolConfig::Saml(c)) => {
            apply_saml(c, p, &mut errs);
            set_required(
                &mut next.allow_subdomains,
                &p.allow_subdomains,
                "saml.allow_subdomains",
                &mut errs,
            );
        }
        (Patch::Value(_), ProtocolConfig::Oidc(_)) => errs.push(FieldError::new(
            "saml",
            FieldErrorKind::NotAllowedForProvider(next.provider),
        )),
    }

    if let ProtocolConfig::Saml(c) = &mut next.config {
        let explicit = patch.saml.as_value();
        let certs_given = explicit
            .is_some_and(|p| !p.idp_certificate.is_absent() || !p.idp_certificates.is_absent());
        let old = current.saml();
        // The stored configuration was derived and checked under these same rules; when no
        // IdP input changed, deriving again would give the same result, so keep it.
        let unchanged = old.is_some_and(|o| {
            !certs_given
                && o.idp_metadata == c.idp_metadata
                && o.idp_entity_id == c.idp_entity_id
                && o.idp_sso_url == c.idp_sso_url
        });
        if !unchanged {
            derive_saml(c, explicit, &mut errs);
        }
        set_primary_certificate(c, now);
        let recertified = old.map(|o| &o.idp_certificates) != Some(&c.idp_certificates);
        if next.active && (!current.active || recertified) {
            let kind = match none_valid(&c.idp_certificates, UnixMillis::new(now)) {
                Some(NoneValid::Expired(expired_at)) => Some(FieldErrorKind::CertificateExpired {
                    expired_at: expired_at.get(),
                }),
                Some(NoneValid::NotYetValid(valid_from)) => {
                    Some(FieldErrorKind::CertificateNotYetValid {
                        valid_from: valid_from.get(),
                    })
                }
                None => None,
            };
            if let Some(kind) = kind {
                errs.push(FieldError::new("saml.idp_certificate", kind));
            }
        }
    }

    if let ProtocolConfig::Oidc(c) = &next.config {
        // Activation needs the endpoints themselves: set, or discovered by a refresh whose
        // document passed its checks. A discovery URL alone is not enough (the library
        // does no I/O, so it cannot know the document is acceptable).
        if next.active && !current.active {
            for (path, url) in [
                ("oidc.auth_url", &c.auth_url),
                ("oidc.token_url", &c.token_url),
            ] {
                if url.is_none() {
                    errs.push(FieldError::new(path, FieldErrorKind::RequiredWhenActive));
                }
            }
        }
    }

    canonicalize_urls(&mut next.config);
    if let Err(v) = validate_with(&next, policy) {
        for e in v.errors() {
            if !errs.contains(e) {
                errs.push(e.clone());
            }
        }
    }
    if let Some(v) = ValidationErrors::from_vec(errs) {
        return Err(v);
    }
    next.version = current.version + 1;
    next.updated_at = UnixMillis::new(now).max(current.updated_at);
    Ok(next)
}

/// Builds a new connection from create parameters: the parameters are applied as a patch
/// to a blank connection of the provider (inactive, empty configuration), through
/// [`merge`], so create and update share every rule. The result has version 1.
pub fn build(
    params: &CreateConnection,
    id: ConnectionId,
    now: i64,
) -> Result<EnterpriseConnection, ValidationErrors> {
    build_with(params, id, now, &Policy::default())
}

/// [`build`] under a [`Policy`].
pub fn build_with(
    params: &CreateConnection,
    id: ConnectionId,
    now: i64,
    policy: &Policy,
) -> Result<EnterpriseConnection, ValidationErrors> {
    let blank = EnterpriseConnection::blank(id, params.provider, now);
    merge_with(&blank, &params.to_patch(), now, policy)
}

/// Reads the metadata and the certificates of a merged SAML configuration (rules at
/// [`merge_with`]).
fn derive_saml(c: &mut SamlConfig, explicit: Option<&SamlPatch>, errs: &mut Vec<FieldError>) {
    let set =
        |f: fn(&SamlPatch) -> &Patch<String>| explicit.is_some_and(|p| f(p).as_value().is_some());
    let given = explicit.and_then(|p| given_certificates(p, errs));
    if let Some(given) = &given {
        c.idp_certificates = given.iter().map(|(_, x)| IdpCertificate::from(x)).collect();
    }
    let Some(xml) = c
        .idp_metadata
        .as_ref()
        .filter(|x| x.len() <= MAX_METADATA_LEN)
    else {
        // Oversized metadata is reported once, as TooLong, by validation.
        return;
    };
    let m = match parse_metadata_for(xml, c.idp_entity_id.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            return errs.push(FieldError::new(
                "saml.idp_metadata",
                FieldErrorKind::InvalidMetadata(e),
            ))
        }
    };
    let disagree = |path: &str, errs: &mut Vec<FieldError>| {
        errs.push(FieldError::new(path, FieldErrorKind::DisagreesWithMetadata))
    };
    let entity_ok = c.idp_entity_id.as_deref() == Some(m.entity_id.as_str());
    if !entity_ok && set(|p| &p.idp_entity_id) {
        disagree("saml.idp_entity_id", errs);
    } else if !entity_ok {
        c.idp_entity_id = Some(m.entity_id.clone());
    }
    let sso_ok = c.idp_sso_url.as_deref().is_some_and(|u| m.has_sso_url(u));
    if !sso_ok && set(|p| &p.idp_sso_url) {
        disagree("saml.idp_sso_url", errs);
    } else if !sso_ok {
        c.idp_sso_url = m.preferred_sso_url().map(str::to_owned);
    }
    // Certificates given beside the metadata are a check: each must be one of its signing
    // certificates. The set is the metadata's, so a rotation it publishes is taken whole.
    let mut all_agree = true;
    for (path, x) in given.iter().flatten() {
        if !m.has_certificate(x) {
            all_agree = false;
            disagree(path, errs);
        }
    }
    if !all_agree {
        // Refused anyway; the given set stays so its own problems (expiry) are reported.
        return;
    }
    c.idp_certificates = m
        .signing_certificates
        .iter()
        .map(IdpCertificate::from)
        .collect();
}

/// The certificates a patch gives (`idp_certificate` and `idp_certificates` together),
/// each with the path it came from, repeats dropped; `None` when it gives neither.
/// Refused entries are reported and left out.
fn given_certificates(
    p: &SamlPatch,
    errs: &mut Vec<FieldError>,
) -> Option<Vec<(String, Certificate)>> {
    if p.idp_certificate.is_absent() && p.idp_certificates.is_absent() {
        return None;
    }
    let mut texts: Vec<(String, &str)> = Vec::new();
    if let Some(text) = p.idp_certificate.as_value() {
        texts.push(("saml.idp_certificate".to_owned(), text));
    }
    if let Some(list) = p.idp_certificates.as_value() {
        if list.len() > MAX_CERTIFICATES_PER_FIELD {
            errs.push(FieldError::new(
                "saml.idp_certificates",
                FieldErrorKind::TooMany {
                    max: MAX_CERTIFICATES_PER_FIELD,
                },
            ));
            return Some(Vec::new());
        }
        texts.extend(
            list.iter()
                .enumerate()
                .map(|(i, t)| (format!("saml.idp_certificates[{i}]"), t.as_str())),
        );
    }
    let mut out: Vec<(String, Certificate)> = Vec::new();
    for (path, text) in texts {
        if text.trim().is_empty() {
            errs.push(FieldError::new(path, FieldErrorKind::Empty));
            continue;
        }
        if text.len() > MAX_CERTIFICATE_LEN {
            errs.push(FieldError::new(
                path,
                FieldErrorKind::TooLong {
                    max: MAX_CERTIFICATE_LEN,
                },
            ));
            continue;
        }
        match parse_certificates(text) {
            Err(e) => errs.push(FieldError::new(path, FieldErrorKind::InvalidCertificate(e))),
            Ok(certs) => {
                for x in certs {
                    if !out.iter().any(|(_, y)| y.der == x.der) {
                        out.push((path.clone(), x));
                    }
                }
            }
        }
    }
    if out.len() > MAX_CERTIFICATES_PER_FIELD {
        errs.push(FieldError::new(
            "saml.idp_certificates",
            FieldErrorKind::TooMany {
                max: MAX_CERTIFICATES_PER_FIELD,
            },
        ));
    }
    Some(out)
}

/// Shows the set's primary certificate at `now` ([`crate::cert_set::primary`]) as
/// `idp_certificate` and its window.
fn set_primary_certificate(c: &mut SamlConfig, now: i64) {
    let p = primary(&c.idp_certificates, UnixMillis::new(now));
    c.idp_certificate = p.map(|x| x.pem.clone());
    c.idp_certificate_issued_at = p.map(|x| x.issued_at);
    c.idp_certificate_expires_at = p.map(|x| x.expires_at);
}

fn set_required<T: Clone>(field: &mut T, p: &Patch<T>, path: &str, errs: &mut Vec<FieldError>) {
    match p {
        Patch::Absent => {}
        Patch::Null => errs.push(FieldError::new(path, FieldErrorKind::NotNullable)),
        Patch::Value(v) => *field = v.clone(),
    }
}

fn set_optional<T: Clone>(field: &mut Option<T>, p: &Patch<T>) {
    match p {
        Patch::Absent => {}
        Patch::Null => *field = None,
        Patch::Value(v) => *field = Some(v.clone()),
    }
}

/// Normalises a domain list; bad entries are reported as `domains[i]`, repeats dropped.
/// The count limit is checked before any entry is parsed, and repeats are found with a
/// hash set, so the cost is linear in the input.
fn normalize_domains(list: &[String], errs: &mut Vec<FieldError>) -> Vec<Domain> {
    if list.len() > MAX_DOMAINS {
        errs.push(FieldError::new(
            "domains",
            FieldErrorKind::TooMany { max: MAX_DOMAINS },
        ));
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    let mut out: Vec<Domain> = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        match Domain::parse(raw) {
            Ok(d) if !seen.insert(d.clone()) => {}
            Ok(d) => out.push(d),
            Err(e) => errs.push(FieldError::new(
                format!("domains[{i}]"),
                FieldErrorKind::InvalidDomain(e),
            )),
        }
    }
    out
}

/// Stores every acceptable URL in its canonical form ([`canonical_url`]), so that what
/// validation checked is what the host fetches; unacceptable ones stay as given and are
/// reported by validation.
fn canonicalize_urls(config: &mut ProtocolConfig) {
    let urls: Vec<&mut Option<String>> = match config {
        ProtocolConfig::Oidc(c) => vec![
            &mut c.auth_url,
            &mut c.discovery_url,
            &mut c.token_url,
            &mut c.user_info_url,
        ],
        ProtocolConfig::Saml(c) => vec![&mut c.idp_metadata_url, &mut c.idp_sso_url],
    };
    for u in urls {
        if let Some(canonical) = u.as_deref().and_then(canonical_url) {
            *u = Some(canonical);
        }
    }
}

/// Applies a table's plain fields of a patch (kinds: [`crate::fields`]); `$path` prefixes
/// the field names in errors.
macro_rules! apply_fields {
    ({$fn:ident, $target:ty, $patch:ty, $path:literal} $( { $(#[$doc:meta])* $name:ident:
        $kind:ident $val:ty $(= $blank:expr)? $(, clear $clear:ident)? $(, stored $st:meta)? } )*) => {
        // A table of nullable fields only (the attribute mapping) never refuses.
        #[allow(unused_variables, clippy::ptr_arg)]
        fn $fn(c: &mut $target, p: &$patch, errs: &mut Vec<FieldError>) {
            $( apply_field!($kind, c.$name, p.$name, concat!($path, stringify!($name)), errs); )*
        }
    };
}

/// One field of a patch, by kind: `req` refuses `null`, `opt` and `secret` clear, `dflt`
/// resets.
macro_rules! apply_field {
    (req, $field:expr, $p:expr, $path:expr, $errs:ident) => {
        set_required(&mut $field, &$p, $path, $errs)
    };
    (dflt, $field:expr, $p:expr, $path:expr, $errs:ident) => {
        match &$p {
            Patch::Absent => {}
            Patch::Null => $field = Default::default(),
            Patch::Value(v) => $field = v.clone(),
        }
    };
    ($kind:ident, $field:expr, $p:expr, $path:expr, $errs:ident) => {
        set_optional(&mut $field, &$p)
    };
}

connection_fields!(plain_only apply_fields {apply_connection, EnterpriseConnection, UpdateConnection, ""} []);
oidc_fields!(plain_only apply_fields {apply_oidc_fields, OidcConfig, OidcPatch, "oidc."} []);
saml_fields!(plain_only apply_fields {apply_saml_fields, SamlConfig, SamlPatch, "saml."} []);
attribute_mapping_fields!(plain_only apply_fields {
    apply_mapping,
    AttributeMapping,
    AttributeMappingPatch,
    "saml.attribute_mapping."
} []);

fn apply_oidc(c: &mut OidcConfig, p: &OidcPatch, errs: &mut Vec<FieldError>) {
    let discovery_before = c.discovery_url.clone();
    apply_oidc_fields(c, p, errs);
    if c.discovery_url != discovery_before {
        // The issuer was the old document's.
        c.issuer = None;
    }
}

fn apply_saml(c: &mut SamlConfig, p: &SamlPatch, errs: &mut Vec<FieldError>) {
    apply_saml_fields(c, p, errs);
    match &p.attribute_mapping {
        Patch::Absent => {}
        Patch::Null => c.attribute_mapping = AttributeMapping::default(),
        Patch::Value(m) => apply_mapping(&mut c.attribute_mapping, m, errs),
    }
}
