//! Connection test runs on the Clerk wire (`/v1/enterprise_connections/{id}/test_runs`):
//! `EnterpriseConnectionTestRunResponse` (`{url}`), `EnterpriseConnectionTestRuns`
//! (`{data, total_count}`) and `EnterpriseConnectionTestRun`. A run shows the raw SAML
//! messages, or the OIDC provider's verified ID token (`oauth.id_token`) and claims
//! (`oauth.user_info`); the IdP's access token is never kept, so never shown
//! (`oauth.access_token` is absent).

use enterprise_sso_flows::{TestRun, TestRunLog, TestRunPage, TestRunProtocol};
use serde::Serialize;

/// `{url}`: the short-lived URL that starts a test run.
#[derive(Debug, Serialize)]
pub struct TestRunUrlJson<'a> {
    /// The URL (holds the run's single-use token).
    pub url: &'a str,
}

/// One log entry.
#[derive(Debug, Serialize)]
pub struct TestRunLogJson<'a> {
    /// `info`, `warning` or `error`.
    pub level: &'a str,
    /// A stable code.
    pub code: &'a str,
    /// One line.
    pub short_message: &'a str,
    /// The whole message (expected and received values of a refusal).
    pub message: &'a str,
}

/// The user parsed from the IdP's answer.
#[derive(Debug, Serialize)]
pub struct ParsedUserInfoJson<'a> {
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<&'a str>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    /// The IdP's user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
}

/// The SAML messages.
#[derive(Debug, Serialize)]
pub struct TestRunSamlJson<'a> {
    /// The AuthnRequest XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml_request: Option<&'a str>,
    /// The Response XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml_response: Option<&'a str>,
    /// The RelayState.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<&'a str>,
}

/// What an OIDC run shows: the verified ID token, and its claims as JSON text.
#[derive(Serialize)]
pub struct TestRunOauthJson<'a> {
    /// The verified ID token (compact JWS), as the provider sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<&'a str>,
    /// The verified claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_info: Option<&'a str>,
}

impl std::fmt::Debug for TestRunOauthJson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRunOauthJson")
            .field("id_token", &self.id_token.map(|_| "[redacted]"))
            .field("user_info", &self.user_info)
            .finish()
    }
}

/// `EnterpriseConnectionTestRun`.
#[derive(Debug, Serialize)]
pub struct TestRunJson<'a> {
    /// `tr_…`.
    pub id: &'a str,
    /// `pending`, `success` or `failed`.
    pub status: &'static str,
    /// `saml` or `oauth`.
    pub connection_type: &'static str,
    /// The user, once parsed.
    pub parsed_user_info: Option<ParsedUserInfoJson<'a>>,
    /// What happened.
    pub logs: Vec<TestRunLogJson<'a>>,
    /// SAML runs: the messages; `null` for OIDC runs.
    pub saml: Option<TestRunSamlJson<'a>>,
    /// OIDC runs: the ID token and claims; `null` for SAML runs.
    pub oauth: Option<TestRunOauthJson<'a>>,
    /// Unix ms.
    pub created_at: i64,
}

fn log(l: &TestRunLog) -> TestRunLogJson<'_> {
    TestRunLogJson {
        level: &l.level,
        code: &l.code,
        short_message: &l.short_message,
        message: &l.message,
    }
}

impl<'a> TestRunJson<'a> {
    /// The wire form of `run`.
    pub fn new(run: &'a TestRun) -> Self {
        TestRunJson {
            id: run.id.as_str(),
            status: run.status.as_str(),
            connection_type: match run.protocol {
                TestRunProtocol::Saml => "saml",
                TestRunProtocol::Oauth => "oauth",
            },
            parsed_user_info: run.parsed_user_info.as_ref().map(|p| ParsedUserInfoJson {
                email_address: p.email_address.as_deref(),
                first_name: p.first_name.as_deref(),
                last_name: p.last_name.as_deref(),
                user_id: p.user_id.as_deref(),
            }),
            logs: run.logs.iter().map(log).collect(),
            saml: run.saml.as_ref().map(|s| TestRunSamlJson {
                saml_request: s.saml_request.as_deref(),
                saml_response: s.saml_response.as_deref(),
                relay_state: s.relay_state.as_deref(),
            }),
            oauth: run.oauth.as_ref().map(|o| TestRunOauthJson {
                id_token: o.id_token.as_deref(),
                user_info: o.user_info.as_deref(),
            }),
            created_at: run.created_at.get(),
        }
    }
}

/// `EnterpriseConnectionTestRuns`.
#[derive(Debug, Serialize)]
pub struct TestRunListJson<'a> {
    /// The page.
    pub data: Vec<TestRunJson<'a>>,
    /// How many match.
    pub total_count: u64,
}

impl<'a> TestRunListJson<'a> {
    /// The wire form of `page`.
    pub fn new(page: &'a TestRunPage) -> Self {
        TestRunListJson {
            data: page.data.iter().map(TestRunJson::new).collect(),
            total_count: page.total_count,
        }
    }
}
