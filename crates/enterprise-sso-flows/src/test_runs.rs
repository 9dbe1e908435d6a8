//! Connection test runs (Clerk's `test_runs`): an IT admin tries a connection and reads
//! why it failed. A run is created with a short-lived, single-use URL token; visiting it
//! starts a sign-in at the connection's IdP through the same engines as a real sign-in,
//! and the IdP's answer goes through every rule of [`Flows::saml_finish`] /
//! [`Flows::oidc_finish`] but the recording: a test run never creates or updates an
//! account and never issues an authorization code. What the run keeps:
//!
//! - its status (`pending` until the IdP answers, then `success` or `failed`), the
//!   protocol, when it was created and finished;
//! - `logs`: what happened, each refusal with the engine's typed reason (code, expected
//!   and received values, never a secret);
//! - the user as the connection's mapping reads them (`parsed_user_info`);
//! - the raw SAML AuthnRequest, Response and RelayState, or for OIDC the verified ID token
//!   and its claims (never the IdP's access or refresh token; the client secret is never
//!   near a run).
//!
//! Records: the run in the sign-in store (kind `test_run`, kept [`TEST_RUN_RETENTION`],
//! at most [`MAX_TEST_RUNS_PER_CONNECTION`] per connection, the oldest dropped), its URL
//! token (`test_run_start`, hashed, [`TEST_RUN_URL_TTL`], taken once) and its request at
//! the IdP (`test_run_request`, keyed by the SAML RelayState or the OIDC state the
//! request carries, so a refused answer is still attributed to its run). The engines'
//! pending requests carry a test-run flag: a test run's answer is refused on the sign-in
//! path, and a sign-in's on the test-run path.

use std::time::Duration;

use base64::Engine as _;

use super::hosted::millis;
use super::oidc::{state_of_url, OidcAnswer};
use super::pending::PendingSlot;
use crate::Flows;
use crate::{HostedSettings, OidcSignInRefusal, OidcStart, SamlPost, SamlSettings, SamlStart};
use enterprise_sso::{
    map_assertion, mapped_fields, route_candidates, sign_in_key, Assertion, ConnectionId,
    EnterpriseConnection, Error, ProtocolConfig, Result, SignInItem, SignInKind, SignInRefusal,
    Store, TestRunId, UnixMillis,
};

pub use super::test_run_model::{
    ParsedUserInfo, TestRun, TestRunLog, TestRunOauth, TestRunPage, TestRunProtocol, TestRunQuery,
    TestRunSaml, TestRunStatus, TestRunUrl,
};

/// How long a run is kept (seven days).
pub const TEST_RUN_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a run's URL may wait for its visit (ten minutes).
pub const TEST_RUN_URL_TTL: Duration = Duration::from_secs(600);
/// The most runs a connection keeps; a new one drops the oldest.
pub const MAX_TEST_RUNS_PER_CONNECTION: usize = 200;
/// The largest raw SAML Response a run keeps (the verifier reads at most 192 KiB).
const MAX_KEPT_RESPONSE: usize = 256 * 1024;
/// The RelayState prefix of a test run's SAML request.
const RELAY_PREFIX: &str = "test_run.";

#[derive(serde::Serialize, serde::Deserialize)]
struct Ref {
    run: String,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn start_key(token: &str) -> String {
    sign_in_key(&format!("test_run_start\u{0}{token}"))
}

fn saml_request_key(relay_state: &str) -> String {
    sign_in_key(&format!("saml\u{0}{relay_state}"))
}

fn oidc_request_key(state: &str) -> String {
    sign_in_key(&format!("oidc\u{0}{state}"))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|_| Error::corrupt("a test run could not be encoded"))
}

fn decode(item: &SignInItem) -> Result<TestRun> {
    serde_json::from_slice(&item.payload).map_err(|_| Error::corrupt("a stored test run"))
}

/// The log line of a refusal, or `None` for an error that is no refusal (storage).
fn refusal_log(e: &Error) -> Option<TestRunLog> {
    let (code, short, message) = match e {
        Error::SamlRefused(r) => (r.code(), "The SAML response was refused", r.to_string()),
        Error::OidcRefused(r) => (r.code(), "The OIDC sign-in was refused", r.to_string()),
        Error::HostedRefused(r) => (r.code(), "The request was refused", r.to_string()),
        Error::SignInRefused(r) => (r.code(), "A sign-in would be refused", r.to_string()),
        Error::NotFound { .. } => ("connection_not_found", "No such connection", e.to_string()),
        _ => return None,
    };
    Some(TestRunLog::new("error", code, short, message))
}

/// The posted Response as XML text when it decodes, else as posted.
/// The log line of an email outside the connection's domains: the domain received, the
/// domains expected, and which rule said so.
fn outside_domains(conn: &EnterpriseConnection, domain: &str, rule: &str) -> TestRunLog {
    let domains: Vec<String> = conn.domains.iter().map(ToString::to_string).collect();
    TestRunLog::new(
        "error",
        "sign_in_email_outside_domains",
        "The email's domain is not the connection's",
        format!(
            "the email's domain is {domain:?}, expected one of the connection's domains [{}]{} (refused by {rule})",
            domains.join(", "),
            if conn.allow_subdomains { " or a subdomain" } else { "" },
        ),
    )
}

fn response_text(posted: &str) -> String {
    let compact: String = posted.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let mut text = xml.unwrap_or_else(|| posted.to_owned());
    if text.len() > MAX_KEPT_RESPONSE {
        let mut end = MAX_KEPT_RESPONSE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl<R: Store> Flows<R> {
    /// Creates a pending test run of connection `id` and the token of its URL (`random`:
    /// 32 bytes from a CSPRNG). The connection's oldest runs beyond
    /// [`MAX_TEST_RUNS_PER_CONNECTION`] are dropped.
    pub async fn create_test_run(&self, id: &ConnectionId, random: [u8; 32]) -> Result<TestRunUrl> {
        let conn = self.svc.get(id).await?;
        let now = self.now_ms();
        let protocol = match conn.config {
            ProtocolConfig::Saml(_) => TestRunProtocol::Saml,
            ProtocolConfig::Oidc(_) => TestRunProtocol::Oauth,
        };
        let run = TestRun {
            id: TestRunId::generate(),
            connection_id: id.clone(),
            status: TestRunStatus::Pending,
            protocol,
            parsed_user_info: None,
            logs: vec![TestRunLog::new(
                "info",
                "test_run_created",
                "Test run created",
                format!(
                    "Test run created for connection {id}; its URL is valid for {} seconds.",
                    TEST_RUN_URL_TTL.as_secs()
                ),
            )],
            saml: None,
            oauth: None,
            created_at: UnixMillis::new(now),
            finished_at: None,
        };
        let mut runs = self
            .svc
            .repo()
            .list_sign_ins(SignInKind::TestRun, id, UnixMillis::new(now))
            .await?;
        runs.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        for old in runs.iter().skip(MAX_TEST_RUNS_PER_CONNECTION - 1) {
            self.svc
                .repo()
                .take_sign_in(SignInKind::TestRun, &old.key, UnixMillis::new(now))
                .await?;
        }
        let item = SignInItem {
            kind: SignInKind::TestRun,
            key: sign_in_key(run.id.as_str()),
            connection_id: Some(id.clone()),
            created_at: UnixMillis::new(now),
            expires_at: UnixMillis::new(now.saturating_add(millis(TEST_RUN_RETENTION))),
            payload: encode(&run)?,
        };
        let token = b64url(&random);
        let slot = PendingSlot {
            kind: SignInKind::TestRunStart,
            key: start_key(&token),
            id,
            ttl: TEST_RUN_URL_TTL,
        };
        let payload = encode(&Ref {
            run: run.id.to_string(),
        })?;
        self.put_pending(slot, payload, now, "the test run token is already pending")
            .await?;
        if !self
            .svc
            .repo()
            .put_sign_in(&item, UnixMillis::new(now))
            .await?
        {
            return Err(Error::corrupt("a new test run id is already stored"));
        }
        Ok(TestRunUrl { run, token })
    }

    /// Connection `id`'s runs, newest first, filtered and paged by `query`.
    pub async fn list_test_runs(
        &self,
        id: &ConnectionId,
        query: &TestRunQuery,
    ) -> Result<TestRunPage> {
        self.svc.get(id).await?;
        let now = self.now_ms();
        let mut runs = self
            .svc
            .repo()
            .list_sign_ins(SignInKind::TestRun, id, UnixMillis::new(now))
            .await?
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>>>()?;
        runs.retain(|r| query.statuses.is_empty() || query.statuses.contains(&r.status));
        runs.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        let total_count = runs.len() as u64;
        let data = runs
            .into_iter()
            .skip(query.offset)
            .take(query.limit.clamp(1, enterprise_sso::limits::MAX_LIMIT))
            .collect();
        Ok(TestRunPage { data, total_count })
    }

    /// Run `run_id` of connection `id`, if kept.
    pub async fn get_test_run(
        &self,
        id: &ConnectionId,
        run_id: &TestRunId,
    ) -> Result<Option<TestRun>> {
        let now = self.now_ms();
        let item = self
            .svc
            .repo()
            .get_sign_in(
                SignInKind::TestRun,
                &sign_in_key(run_id.as_str()),
                UnixMillis::new(now),
            )
            .await?
            .filter(|i| i.connection_id.as_ref() == Some(id));
        item.as_ref().map(decode).transpose()
    }

    /// Writes `run` over its stored version (taken, then put: one finisher gets it).
    async fn save_run(&self, run: &TestRun) -> Result<()> {
        let now = self.now_ms();
        let key = sign_in_key(run.id.as_str());
        let old = self
            .svc
            .repo()
            .take_sign_in(SignInKind::TestRun, &key, UnixMillis::new(now))
            .await?;
        let Some(old) = old else {
            // Dropped or expired meanwhile: nothing to record into.
            return Ok(());
        };
        let item = SignInItem {
            payload: encode(run)?,
            ..old
        };
        self.svc
            .repo()
            .put_sign_in(&item, UnixMillis::new(now))
            .await?;
        Ok(())
    }

    /// Finishes `run` as failed with `e`'s reason, when `e` is a refusal; gives `e` back.
    async fn fail_run(&self, mut run: TestRun, e: Error) -> Result<TestRun> {
        let Some(log) = refusal_log(&e) else {
            return Err(e);
        };
        // A rule that logged its own detailed line already says it.
        if run.logs.last().map(|l| (l.level.as_str(), l.code.as_str()))
            != Some(("error", log.code.as_str()))
        {
            run.logs.push(log);
        }
        run.status = TestRunStatus::Failed;
        run.finished_at = Some(UnixMillis::new(self.now_ms()));
        self.save_run(&run).await?;
        Ok(run)
    }

    /// The URL token's visit: takes the token (once), starts the run's request at the
    /// IdP bound to `browser` (the host's browser cookie; `random`: 64 bytes from a
    /// CSPRNG) and gives the IdP URL. A refusal here (connection not configured) fails
    /// the run and is returned.
    pub async fn begin_test_run(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        token: &str,
        browser: &str,
        random: [u8; 64],
    ) -> Result<String> {
        let now = self.now_ms();
        let expired = || Error::InvalidArgument {
            argument: "token",
            reason: "the test run URL is unknown, expired or was used already",
        };
        let start = self
            .svc
            .repo()
            .take_sign_in(
                SignInKind::TestRunStart,
                &start_key(token),
                UnixMillis::new(now),
            )
            .await?
            .filter(|i| i.connection_id.as_ref() == Some(id))
            .ok_or_else(expired)?;
        let r: Ref = serde_json::from_slice(&start.payload)
            .map_err(|_| Error::corrupt("a test run token's payload"))?;
        let run_id: TestRunId = r.run.parse().map_err(|_| Error::corrupt("a test run id"))?;
        let mut run = self.get_test_run(id, &run_id).await?.ok_or_else(expired)?;
        match self
            .begin_request(settings, id, &mut run, browser, random)
            .await
        {
            Ok(url) => {
                self.save_run(&run).await?;
                Ok(url)
            }
            Err(e) => {
                if let Some(log) = refusal_log(&e) {
                    run.logs.push(log);
                    run.status = TestRunStatus::Failed;
                    run.finished_at = Some(UnixMillis::new(self.now_ms()));
                    self.save_run(&run).await?;
                }
                Err(e)
            }
        }
    }

    async fn begin_request(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        run: &mut TestRun,
        browser: &str,
        random: [u8; 64],
    ) -> Result<String> {
        let conn = self.svc.get(id).await?;
        if !conn.active {
            run.logs.push(TestRunLog::new(
                "warning",
                "connection_inactive",
                "The connection is not active",
                "The connection is not active: this test run goes on, but real sign-ins are refused until it is activated.".to_owned(),
            ));
        }
        let now = self.now_ms();
        let (url, key, log) = match conn.config {
            ProtocolConfig::Saml(_) => {
                let (mut r, mut marker) = ([0u8; 32], [0u8; 32]);
                r.copy_from_slice(&random[..32]);
                marker.copy_from_slice(&random[32..]);
                let relay = format!("{RELAY_PREFIX}{}", b64url(&marker));
                let start = SamlStart {
                    browser,
                    relay_state: Some(&relay),
                    random: r,
                };
                let redirect = self
                    .saml_start_for(settings.saml(), id, start, true)
                    .await?;
                run.saml = Some(TestRunSaml {
                    saml_request: Some(redirect.request_xml.clone()),
                    saml_response: None,
                    relay_state: Some(relay.clone()),
                });
                let log = format!(
                    "AuthnRequest {} sent to the IdP (HTTP-Redirect binding).",
                    redirect.request_id
                );
                (redirect.url, saml_request_key(&relay), log)
            }
            ProtocolConfig::Oidc(_) => {
                let oidc = settings.oidc().ok_or_else(|| {
                    Error::OidcRefused(Box::new(OidcSignInRefusal::NotConfigured {
                        missing: "the host's OIDC settings",
                    }))
                })?;
                let start = OidcStart {
                    browser,
                    login_hint: None,
                    domain_hint: None,
                    random,
                };
                let url = self.oidc_start_for(oidc, id, start, true).await?;
                let state = state_of_url(&url)
                    .ok_or_else(|| Error::corrupt("the OIDC authorization URL has no state"))?;
                run.oauth = Some(TestRunOauth::default());
                let log =
                    "Authorization request sent to the provider (code flow, PKCE S256).".to_owned();
                (url, oidc_request_key(&state), log)
            }
        };
        run.logs.push(TestRunLog::new(
            "info",
            "request_sent",
            "Request sent to the IdP",
            log,
        ));
        let slot = PendingSlot {
            kind: SignInKind::TestRunRequest,
            key,
            id,
            ttl: TEST_RUN_URL_TTL,
        };
        let payload = encode(&Ref {
            run: run.id.to_string(),
        })?;
        self.put_pending(
            slot,
            payload,
            now,
            "the test run's request is already pending",
        )
        .await?;
        Ok(url)
    }

    /// The run whose request rides on the RelayState or state keyed `key`, taken once.
    async fn take_run_request(&self, id: &ConnectionId, key: &str) -> Result<Option<TestRun>> {
        let now = self.now_ms();
        let Some(item) = self
            .svc
            .repo()
            .take_sign_in(SignInKind::TestRunRequest, key, UnixMillis::new(now))
            .await?
            .filter(|i| i.connection_id.as_ref() == Some(id))
        else {
            return Ok(None);
        };
        let r: Ref = serde_json::from_slice(&item.payload)
            .map_err(|_| Error::corrupt("a test run request's payload"))?;
        let run_id: TestRunId = r.run.parse().map_err(|_| Error::corrupt("a test run id"))?;
        self.get_test_run(id, &run_id).await
    }

    /// A Response posted to connection `id`'s ACS with a test run's RelayState: `None`
    /// when the RelayState is no live test run's (the host goes on with the sign-in
    /// path). Otherwise every rule of a sign-in is applied, nothing is signed in, and the
    /// finished run (success or failed, with its logs) is stored and returned.
    pub async fn finish_saml_test_run(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        post: &SamlPost<'_>,
    ) -> Result<Option<TestRun>> {
        let Some(relay) = post.relay_state.filter(|r| r.starts_with(RELAY_PREFIX)) else {
            return Ok(None);
        };
        let Some(mut run) = self.take_run_request(id, &saml_request_key(relay)).await? else {
            return Ok(None);
        };
        let saml = run.saml.get_or_insert_with(TestRunSaml::default);
        saml.saml_response = Some(response_text(post.saml_response));
        saml.relay_state = Some(relay.to_owned());
        let accepted = match self
            .saml_accept(
                settings,
                id,
                post.saml_response,
                Some(relay),
                post.browser,
                true,
            )
            .await
        {
            Ok(a) => a,
            Err(e) => return self.fail_run(run, e).await.map(Some),
        };
        if accepted.relay_state.as_deref() != Some(relay) {
            let e = Error::SamlRefused(Box::new(crate::SamlRefusal::RequestKindMismatch {
                expected: "test run",
                received: "request of another test run",
            }));
            return self.fail_run(run, e).await.map(Some);
        }
        let v = &accepted.verified;
        run.logs.push(TestRunLog::new(
            "info",
            "saml_response_verified",
            "The SAML response was verified",
            format!(
                "Assertion {} from {} verified (signature, issuer, audience, destination, times; {}), NameID {:?}.",
                v.assertion_id,
                v.issuer,
                if v.encrypted { "encrypted" } else { "not encrypted" },
                v.name_id
            ),
        ));
        self.finish_checked(run, &accepted.assertion)
            .await
            .map(Some)
    }

    /// The OIDC callback of connection `id` whose `state` is a test run's: `None` when it
    /// is no live test run's. As [`Flows::finish_saml_test_run`].
    pub async fn finish_oidc_test_run(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
    ) -> Result<Option<TestRun>> {
        let Some(state) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
        else {
            return Ok(None);
        };
        let Some(mut run) = self.take_run_request(id, &oidc_request_key(&state)).await? else {
            return Ok(None);
        };
        let Some(oidc) = settings.oidc() else {
            let e = Error::OidcRefused(Box::new(OidcSignInRefusal::NotConfigured {
                missing: "the host's OIDC settings",
            }));
            return self.fail_run(run, e).await.map(Some);
        };
        let (identity, assertion, id_token) =
            match self.oidc_accept(oidc, id, query, browser, true).await {
                Ok(OidcAnswer::Verified {
                    identity,
                    assertion,
                    id_token,
                }) => (identity, assertion, id_token),
                Ok(OidcAnswer::Refused(r)) => {
                    let e = Error::OidcRefused(Box::new(OidcSignInRefusal::Rp(r)));
                    return self.fail_run(run, e).await.map(Some);
                }
                Err(e) => return self.fail_run(run, e).await.map(Some),
            };
        // The verified ID token and its claims; the provider's access and refresh tokens
        // never reach the run.
        run.oauth = Some(TestRunOauth {
            id_token: Some(id_token.expose_secret().to_owned()),
            user_info: serde_json::to_string(&identity.claims).ok(),
        });
        run.logs.push(TestRunLog::new(
            "info",
            "oidc_id_token_verified",
            "The ID token was verified",
            format!(
                "ID token from {} verified (signature, issuer, audience, nonce, times), subject {:?}.",
                identity.issuer, identity.subject
            ),
        ));
        self.finish_checked(run, &assertion).await.map(Some)
    }

    /// The rules of [`Connections::record_sign_in`] without a write: the mapping, the
    /// tenant boundary, just-in-time provisioning; then the run is stored finished.
    async fn finish_checked(&self, mut run: TestRun, assertion: &Assertion) -> Result<TestRun> {
        let conn = self.svc.get(&run.connection_id).await?;
        let (user_id, email, first_name, last_name) = mapped_fields(&conn, assertion);
        run.parsed_user_info = Some(ParsedUserInfo {
            email_address: email,
            first_name,
            last_name,
            user_id,
        });
        match self.would_sign_in(&conn, assertion, &mut run).await {
            Ok(()) => {
                run.status = TestRunStatus::Success;
                run.finished_at = Some(UnixMillis::new(self.now_ms()));
                run.logs.push(TestRunLog::new(
                    "info",
                    "test_run_succeeded",
                    "The test run succeeded",
                    "Every rule of a sign-in passed; no account was created or updated.".to_owned(),
                ));
                self.save_run(&run).await?;
                Ok(run)
            }
            Err(e) => self.fail_run(run, e).await,
        }
    }

    async fn would_sign_in(
        &self,
        conn: &EnterpriseConnection,
        assertion: &Assertion,
        run: &mut TestRun,
    ) -> Result<()> {
        if !conn.authenticatable {
            return Err(Error::SignInRefused(SignInRefusal::NotAuthenticatable));
        }
        let who = match map_assertion(conn, assertion) {
            Ok(who) => who,
            Err(SignInRefusal::EmailOutsideDomains) => {
                let email = mapped_fields(conn, assertion).1.unwrap_or_default();
                let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
                run.logs.push(outside_domains(conn, domain, "the mapping"));
                return Err(Error::SignInRefused(SignInRefusal::EmailOutsideDomains));
            }
            Err(r) => return Err(Error::SignInRefused(r)),
        };
        run.parsed_user_info = Some(ParsedUserInfo {
            email_address: Some(who.email.to_string()),
            first_name: who.first_name.clone(),
            last_name: who.last_name.clone(),
            user_id: Some(who.provider_user_id.clone()),
        });
        // The tenant boundary as routing would draw it with this connection active (a
        // test run may come before the activation): the first candidate domain whose
        // connection takes the sign-in must be this one.
        let mut routed = None;
        for (d, exact) in route_candidates(who.email.domain()) {
            if let Some(c) = self.svc.repo().find_by_domain(&d).await? {
                let active = c.active || c.id == conn.id;
                if active && (exact || c.allow_subdomains) {
                    routed = Some(c.id);
                    break;
                }
            }
        }
        if routed.as_ref() != Some(&conn.id) {
            let to = routed.map_or_else(|| "no connection".to_owned(), |c| c.to_string());
            let why = format!("routing, which sends it to {to}");
            run.logs
                .push(outside_domains(conn, who.email.domain().as_ref(), &why));
            return Err(Error::SignInRefused(SignInRefusal::EmailOutsideDomains));
        }
        let found = self
            .svc
            .repo()
            .find_account_by_subject(&conn.id, &who.provider_user_id)
            .await?;
        match found {
            None if conn.disable_jit_provisioning => {
                Err(Error::SignInRefused(SignInRefusal::JitProvisioningDisabled))
            }
            Some(a) if !a.active => Err(Error::SignInRefused(SignInRefusal::AccountInactive)),
            found => {
                run.logs.push(TestRunLog::new(
                    "info",
                    "account_lookup",
                    "Account lookup",
                    match found {
                        Some(a) => format!("A real sign-in would sign in to account {}.", a.id),
                        None => {
                            "A real sign-in would create an account (just-in-time provisioning)."
                                .to_owned()
                        }
                    },
                ));
                Ok(())
            }
        }
    }
}
