//! The test run as the core keeps it and the service answers it (see `test_runs`).

use enterprise_sso::{ConnectionId, TestRunId, UnixMillis};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestRunStatus {
    /// Created; the IdP has not answered.
    Pending,
    /// The IdP's answer passed every rule; a real sign-in would succeed.
    Success,
    /// Something was refused; the logs say what.
    Failed,
}

impl TestRunStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TestRunStatus::Pending => "pending",
            TestRunStatus::Success => "success",
            TestRunStatus::Failed => "failed",
        }
    }

    /// The status a wire name stands for.
    pub fn parse(s: &str) -> Option<TestRunStatus> {
        [Self::Pending, Self::Success, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The protocol a run went through (Clerk's `connection_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestRunProtocol {
    /// SAML.
    Saml,
    /// OpenID Connect (Clerk's `oauth`).
    Oauth,
}

/// One log line of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRunLog {
    /// `info`, `warning` or `error`.
    pub level: String,
    /// A stable snake_case code (the engines' refusal codes for refusals).
    pub code: String,
    /// One line.
    pub short_message: String,
    /// The whole message, with the expected and received values of a refusal.
    pub message: String,
}

impl TestRunLog {
    pub(super) fn new(level: &str, code: &str, short: &str, message: String) -> Self {
        TestRunLog {
            level: level.to_owned(),
            code: code.to_owned(),
            short_message: short.to_owned(),
            message,
        }
    }
}

/// The user as the connection's attribute mapping reads the IdP's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParsedUserInfo {
    /// The email.
    pub email_address: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The IdP's id of the user.
    pub user_id: Option<String>,
}

/// The raw SAML messages of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRunSaml {
    /// The AuthnRequest XML.
    pub saml_request: Option<String>,
    /// The Response XML as posted (encrypted assertions stay encrypted).
    pub saml_response: Option<String>,
    /// The RelayState posted.
    pub relay_state: Option<String>,
}

/// What an OIDC run keeps: the verified ID token and its claims (never the IdP's access
/// or refresh token).
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRunOauth {
    /// The verified ID token as the provider's token endpoint sent it (compact JWS), for
    /// the admin to read; absent when the run failed before it was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The verified ID token's claims (with user-info claims added), as JSON.
    pub user_info: Option<String>,
}

impl std::fmt::Debug for TestRunOauth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRunOauth")
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("user_info", &self.user_info)
            .finish()
    }
}

/// A connection test run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRun {
    /// `tr_…`.
    #[serde(with = "id_text")]
    pub id: TestRunId,
    /// The connection tested.
    #[serde(with = "id_text")]
    pub connection_id: ConnectionId,
    /// Where it is.
    pub status: TestRunStatus,
    /// SAML or OIDC.
    pub protocol: TestRunProtocol,
    /// The user, once the IdP's answer was verified and mapped.
    pub parsed_user_info: Option<ParsedUserInfo>,
    /// What happened.
    pub logs: Vec<TestRunLog>,
    /// The SAML messages (SAML runs).
    pub saml: Option<TestRunSaml>,
    /// The OIDC ID token and claims (OIDC runs).
    pub oauth: Option<TestRunOauth>,
    /// Created, Unix ms.
    pub created_at: UnixMillis,
    /// Finished (success or failed), Unix ms.
    pub finished_at: Option<UnixMillis>,
}

mod id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<T: AsRef<str>, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref())
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A new run and the token of its URL.
#[derive(Clone)]
pub struct TestRunUrl {
    /// The run (pending).
    pub run: TestRun,
    /// The URL token (secret until visited; stored hashed): the host serves the URL.
    pub token: String,
}

impl std::fmt::Debug for TestRunUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRunUrl")
            .field("run", &self.run.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Which runs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunQuery {
    /// Only runs with one of these statuses (empty: all).
    pub statuses: Vec<TestRunStatus>,
    /// At most this many (1..=500).
    pub limit: usize,
    /// After skipping this many.
    pub offset: usize,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunPage {
    /// The runs.
    pub data: Vec<TestRun>,
    /// How many match the query.
    pub total_count: u64,
}
