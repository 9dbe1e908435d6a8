//! The rustls configuration: the system's roots plus the extra bundle, the aws-lc-rs provider.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::BuildError;
use crate::options::FetchOptions;

/// Builds the client TLS configuration for `opts`.
pub(crate) fn client_config(opts: &FetchOptions) -> Result<rustls::ClientConfig, BuildError> {
    let mut roots = RootCertStore::empty();
    if opts.system_roots {
        // Unreadable or unparsable system certificates are skipped (as browsers do); an
        // empty result is refused below unless the extra bundle fills the store.
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "skipping an unreadable system CA certificate");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!(
                added,
                ignored,
                "some system CA certificates were not usable"
            );
        }
    }
    if let Some(pem) = &opts.extra_ca_pem {
        let mut count = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| BuildError::InvalidCaBundle {
                reason: e.to_string(),
            })?;
            roots.add(cert).map_err(|e| BuildError::InvalidCaBundle {
                reason: e.to_string(),
            })?;
            count += 1;
        }
        if count == 0 {
            return Err(BuildError::InvalidCaBundle {
                reason: "no CERTIFICATE block".to_owned(),
            });
        }
    }
    if roots.is_empty() {
        return Err(BuildError::NoTrustedRoots);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(BuildError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
