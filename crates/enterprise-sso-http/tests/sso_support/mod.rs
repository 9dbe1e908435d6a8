//! What the hosted sign-in router tests share: the app with two OAuth clients over SQLite,
//! a clock the tests can move, SAML connections for the samlify IdP, a browser (a cookie
//! jar of one cookie), and samlify itself (idp/node/samlify-response.js).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use enterprise_sso::{
    ConnectionId, Connections, CreateConnection, DynStore, Patch, Provider, SamlPatch,
};
use enterprise_sso_flows::{HostedSettings, SamlSettings};
use enterprise_sso_http::{router_with, ApiKeys, Auth, HttpOptions, OAuthClient, SignInOptions};
use enterprise_sso_sqlite::SqliteRepo;
use tower::ServiceExt;

pub(crate) const KEY: &str = "sk_test_sso_router";
pub(crate) const BASE: &str = "http://127.0.0.1:3000/saml";
pub(crate) const IDP: &str = "http://127.0.0.1:7000/idp";
pub(crate) const APP_CB: &str = "https://app.example.com/cb";
pub(crate) const APP_CB2: &str = "https://app.example.com/other";
pub(crate) const B_CB: &str = "http://127.0.0.1:4000/cb";
/// RFC 7636 appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether samlify is installed; with `CI=true` a missing one fails the test.
pub(crate) fn have_samlify() -> bool {
    if root().join("idp/node/node_modules/samlify").exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("samlify is missing: run `bash idp/install.sh`");
    }
    eprintln!("skipped: samlify is not installed (run `bash idp/install.sh`)");
    false
}

pub(crate) struct World {
    pub(crate) app: Router,
    pub(crate) svc: Arc<Connections<DynStore>>,
    /// The flows over `svc`.
    pub(crate) svc_flows: enterprise_sso_flows::Flows<DynStore>,
    /// Added to the real clock (ms).
    pub(crate) offset: Arc<AtomicI64>,
    pub(crate) saml: SamlSettings,
}

pub(crate) fn clients() -> Vec<OAuthClient> {
    vec![
        OAuthClient::new(
            "client_a",
            vec![APP_CB.into(), APP_CB2.into()],
            Some(APP_CB.into()),
        )
        .unwrap(),
        OAuthClient::new("client_b", vec![B_CB.into()], None).unwrap(),
    ]
}

impl World {
    pub(crate) fn new() -> World {
        Self::with(HostedSettings::new(SamlSettings::new(BASE)), BASE)
    }

    pub(crate) fn with(settings: HostedSettings, base: &str) -> World {
        let offset = Arc::new(AtomicI64::new(0));
        let o = offset.clone();
        let repo: DynStore = Arc::new(SqliteRepo::open_in_memory().expect("sqlite"));
        let svc = Arc::new(
            Connections::new(repo)
                .with_clock(Arc::new(move || {
                    enterprise_sso::now_ms() + o.load(Ordering::SeqCst)
                }))
                .with_policy(enterprise_sso::Policy {
                    allow_loopback_fetch: true,
                }),
        );
        let saml = settings.saml().clone();
        let keys = ApiKeys::from_list(KEY).unwrap().unwrap();
        let opts = HttpOptions {
            sp_base_url: Some(base.into()),
            sign_in: Some(SignInOptions::new(settings, base, clients()).unwrap()),
            ..HttpOptions::default()
        };
        let app = router_with(svc.clone(), Auth::Keys(keys), opts);
        World {
            app,
            svc_flows: enterprise_sso_flows::Flows::new(Arc::clone(&svc)),
            svc,
            offset,
            saml,
        }
    }

    /// An active SAML connection for acme.com (or `domain`) trusting idp/keys/idp-cert.pem.
    pub(crate) async fn saml_connection(&self, domain: &str, idp_initiated: bool) -> ConnectionId {
        let mut p = CreateConnection::new(Provider::SamlCustom, "Acme");
        p.domains = Some(vec![domain.into()]);
        p.active = Some(true);
        p.organization_id = Some(format!("org_{domain}"));
        p.saml = Some(SamlPatch {
            idp_entity_id: Patch::Value(IDP.into()),
            idp_sso_url: Patch::Value("http://127.0.0.1:7000/sso".into()),
            idp_certificate: Patch::Value(
                std::fs::read_to_string(root().join("idp/keys/idp-cert.pem")).unwrap(),
            ),
            allow_idp_initiated: Patch::Value(idp_initiated),
            ..Default::default()
        });
        self.svc.create(&p).await.unwrap().id
    }

    /// A signed Response from samlify for connection `id` (`request_id` None: unsolicited).
    pub(crate) fn mint(&self, id: &ConnectionId, email: &str, request_id: Option<&str>) -> String {
        let entity = self.saml.entity_id(id);
        let acs = self.saml.acs_url(id);
        let mut args = vec![
            "idp/node/samlify-response.js",
            "--email",
            email,
            "--sp-entity-id",
            &entity,
            "--acs",
            &acs,
            "--idp-entity-id",
            IDP,
        ];
        match request_id {
            Some(r) => args.extend(["--request-id", r]),
            None => args.push("--unsolicited"),
        }
        let out = Command::new("node")
            .current_dir(root())
            .args(&args)
            .output()
            .expect("run samlify");
        assert!(
            out.status.success(),
            "samlify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// One answer, whatever its type.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// A query parameter of the Location.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        let loc = url::Url::parse(self.location()?).ok()?;
        loc.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("json body")
    }

    /// A refusal page: HTML, no Location.
    pub(crate) fn assert_page(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(self.location().is_none(), "a page, never a redirect");
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(
            self.body
                .contains(&format!("<code id=\"error\">{code}</code>")),
            "expected {code}: {}",
            self.body
        );
    }
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A browser: keeps the one cookie the server sets.
#[derive(Default, Clone)]
pub(crate) struct Browser {
    pub(crate) cookie: Option<String>,
}

impl Browser {
    fn with_cookie(&self, b: axum::http::request::Builder) -> axum::http::request::Builder {
        match &self.cookie {
            Some(c) => b.header(header::COOKIE, c),
            None => b,
        }
    }

    fn keep(&mut self, r: &Reply) {
        if let Some(c) = r.headers.get(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            self.cookie = Some(c.split(';').next().unwrap().to_owned());
        }
    }

    pub(crate) async fn get(&mut self, app: &Router, uri: &str) -> Reply {
        let req = self
            .with_cookie(Request::builder().method(Method::GET).uri(uri))
            .body(Body::empty())
            .unwrap();
        let r = send(app, req).await;
        self.keep(&r);
        r
    }

    pub(crate) async fn post_form(
        &mut self,
        app: &Router,
        uri: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .with_cookie(
                Request::builder()
                    .method(Method::POST)
                    .uri(uri)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            )
            .body(Body::from(body))
            .unwrap();
        let r = send(app, req).await;
        self.keep(&r);
        r
    }
}

/// `/sso/authorize` with these parameters.
pub(crate) fn authorize_uri(params: &[(&str, &str)]) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/sso/authorize?{q}")
}

/// The ID of the AuthnRequest in an IdP redirect URL.
pub(crate) fn request_id(idp_url: &str) -> String {
    let u = url::Url::parse(idp_url).unwrap();
    let req = u
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let xml = enterprise_sso_protocol::saml::sp::inflate_redirect_param(&req, 1 << 16).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let at = xml.find(" ID=\"").unwrap() + 5;
    xml[at..at + xml[at..].find('"').unwrap()].to_owned()
}

/// The ACS path of a connection.
pub(crate) fn acs(id: &ConnectionId) -> String {
    format!("/saml/{id}/acs")
}

/// `POST /sso/token` with a form.
pub(crate) async fn token(app: &Router, form: &[(&str, &str)]) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/sso/token")
        .header(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

/// `(status, error)` of a token endpoint refusal.
pub(crate) fn oauth_error(r: &Reply) -> (u16, String) {
    let j = r.json();
    assert!(j["error_description"].is_string(), "{j}");
    (r.status.as_u16(), j["error"].as_str().unwrap().to_owned())
}

/// Signs jane in through connection `id` for `client` (SP-initiated, samlify): the code.
pub(crate) async fn sign_in(
    w: &World,
    browser: &mut Browser,
    id: &ConnectionId,
    client: &str,
    redirect_uri: &str,
    challenge: Option<&str>,
) -> String {
    let conn = id.to_string();
    let mut params = vec![
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("connection", conn.as_str()),
        ("state", "st-1"),
    ];
    if let Some(c) = challenge {
        params.extend([("code_challenge", c), ("code_challenge_method", "S256")]);
    }
    let r = browser.get(&w.app, &authorize_uri(&params)).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let rid = request_id(r.location().unwrap());
    let response = w.mint(id, "jane@acme.com", Some(&rid));
    let r = browser
        .post_form(&w.app, &acs(id), &[("SAMLResponse", &response)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().unwrap().starts_with(redirect_uri));
    assert_eq!(r.param("state").as_deref(), Some("st-1"));
    r.param("code").unwrap()
}
