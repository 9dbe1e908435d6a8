//! # enterprise-sso-wire
//!
//! The JSON wire format: Clerk Backend API shapes and the WorkOS `Connection` view.
//!
//! Hosts that expose connections over HTTP use these instead of writing their own mapping:
//!
//! - requests: [`decode_create`] and [`decode_update`] turn `POST` / `PATCH
//!   /enterprise_connections` bodies into the core's parameter types, keeping absent, `null`
//!   and values apart, refusing unknown fields by name and any key given twice;
//! - responses: [`ConnectionJson`], [`ConnectionListJson`], [`DeletedObjectJson`],
//!   [`EnterpriseAccountJson`] (Clerk), [`WorkosConnectionJson`], [`WorkosListJson`] (WorkOS);
//! - errors: [`ApiErrors`], built from a core [`enterprise_sso::Error`] or a decode failure, with a
//!   stable `code`, the parameter name, and an HTTP status.
//!
//! The OIDC client secret is write-only: no response type has a field for it.
//!
//! ```
//! use enterprise_sso_wire::{decode_create, ApiErrors, ConnectionJson};
//! use enterprise_sso::Connections;
//! use enterprise_sso_memory::MemoryRepo;
//! # futures_executor::block_on(async {
//! let svc = Connections::new(MemoryRepo::new());
//! let body = br#"{"name": "Acme", "provider": "oidc_custom", "domains": ["acme.com"],
//!                 "oidc": {"client_id": "cid", "client_secret": "s3cr3t"}}"#;
//! let params = decode_create(body).unwrap();
//! let conn = svc.create(&params).await.unwrap();
//! let json = serde_json::to_string(&ConnectionJson::new(&conn)).unwrap();
//! assert!(json.contains(r#""object":"enterprise_connection""#) && !json.contains("s3cr3t"));
//!
//! let bad = decode_create(br#"{"name": "x", "provider": "oidc_custom", "domains": ["a.com"], "oidc": {"secret": 1}}"#);
//! let err: ApiErrors = bad.unwrap_err();
//! assert_eq!((err.status, err.errors[0].code), (422, "form_param_unknown"));
//! assert_eq!(err.errors[0].meta.param_name.as_deref(), Some("oidc.secret"));
//! # });
//! ```

mod clerk;
mod errors;
mod strict;
mod test_runs;
mod workos;

pub use clerk::{
    decode_create, decode_update, oauth_strategy, AttributeMappingJson, ConnectionJson,
    ConnectionListJson, DeletedObjectJson, EnterpriseAccountConnectionJson, EnterpriseAccountJson,
    IdpCertificateJson, OauthConfigJson, SamlConnectionJson, SpEndpoints, VerificationJson,
    VERIFICATION_WINDOW_MS,
};
pub use errors::{codes, ApiError, ApiErrorMeta, ApiErrors};
pub use test_runs::{
    ParsedUserInfoJson, TestRunJson, TestRunListJson, TestRunLogJson, TestRunOauthJson,
    TestRunSamlJson, TestRunUrlJson,
};
pub use workos::{
    iso8601_ms, WorkosConnectionJson, WorkosDomainJson, WorkosEventJson, WorkosListJson,
    WorkosListMetadata,
};
