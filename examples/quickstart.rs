//! Quickstart: create a SAML and an OIDC connection, list them, patch one, record a
//! sign-in, route emails. On a SQLite file in a temporary directory; on PostgreSQL when
//! `SSO_DATABASE_URL=postgres://…` is set (in a new schema `quickstart_<time>`, so runs do
//! not collide).

use enterprise_sso::{
    Assertion, ClientSecret, Connections, CreateConnection, ListQuery, OidcPatch, Order, Patch,
    Provider, SamlPatch, Store, UpdateConnection,
};

use enterprise_sso_postgres::{PostgresOptions, PostgresRepo};
use enterprise_sso_sqlite::SqliteRepo;

/// A self-signed test certificate (what the IdP's metadata would carry).
const IDP_CERT: &str = include_str!("../crates/enterprise-sso/src/testdata/idp_cert.pem");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("SSO_DATABASE_URL") {
        let schema = format!(
            "quickstart_{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
        );
        println!("database: PostgreSQL, schema {schema}");
        let opts = PostgresOptions {
            schema,
            ..PostgresOptions::default()
        };
        let repo = futures_executor::block_on(PostgresRepo::connect_with(&url, opts))?;
        futures_executor::block_on(run(Connections::new(repo)))?;
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("quickstart.db");
    println!("database: {}", path.display());
    let repo = SqliteRepo::open(&path)?;
    futures_executor::block_on(run(Connections::new(repo)))?;
    Ok(())
}

async fn run<S: Store>(svc: Connections<S>) -> Result<(), Box<dyn std::error::Error>> {
    let mut saml = CreateConnection::new(Provider::SamlOkta, "Acme (Okta)");
    saml.domains = Some(vec!["acme.com".into()]);
    saml.active = Some(true);
    saml.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value("http://www.okta.com/exk123".into()),
        idp_sso_url: Patch::Value("https://acme.okta.com/app/sso/saml".into()),
        idp_certificate: Patch::Value(IDP_CERT.into()),
        allow_subdomains: Patch::Value(true),
        ..Default::default()
    });
    let saml = svc.create(&saml).await?;
    println!(
        "created {} {:?} state={}",
        saml.id,
        saml.name,
        saml.state().as_str()
    );

    let mut oidc = CreateConnection::new(Provider::OidcCustom, "Globex (OIDC)");
    oidc.domains = Some(vec!["Globex.example".into()]);
    oidc.oidc = Some(OidcPatch {
        client_id: Patch::Value("globex-client".into()),
        client_secret: Patch::Value(ClientSecret::new("do-not-print-me")),
        discovery_url: Patch::Value(
            "https://login.globex.example/.well-known/openid-configuration".into(),
        ),
        // Activation needs the endpoints. A server with a fetcher fills them from the
        // discovery document (`Flows::refresh`); this example fetches nothing, so it
        // gives them.
        auth_url: Patch::Value("https://login.globex.example/oauth2/authorize".into()),
        token_url: Patch::Value("https://login.globex.example/oauth2/token".into()),
        ..Default::default()
    });
    let oidc = svc.create(&oidc).await?;
    println!(
        "created {} {:?} state={} config={:?}",
        oidc.id,
        oidc.name,
        oidc.state().as_str(),
        oidc.oidc()
    );

    let page = svc
        .list(&ListQuery {
            order: Order::Asc,
            ..Default::default()
        })
        .await?;
    for c in &page.items {
        let domains: Vec<_> = c.domains.iter().map(|d| d.as_str()).collect();
        println!(
            "listed {} provider={} protocol={} domains={domains:?}",
            c.id,
            c.provider,
            c.protocol()
        );
    }

    // Activate the OIDC connection; clearing its secret without PKCE would be refused.
    let bad = UpdateConnection {
        oidc: Patch::Value(OidcPatch {
            client_secret: Patch::Null,
            ..Default::default()
        }),
        ..Default::default()
    };
    match svc.update(&oidc.id, &bad).await {
        Err(e) => println!("refused patch: {e}"),
        Ok(_) => return Err("a patch that clears the secret without PKCE was accepted".into()),
    }
    let on = UpdateConnection {
        active: Patch::Value(true),
        ..Default::default()
    };
    let oidc = svc.update(&oidc.id, &on).await?;
    println!(
        "patched {} active={} version={} state={}",
        oidc.id,
        oidc.active,
        oidc.version,
        oidc.state().as_str()
    );

    // The host's SAML handler validated a response from Acme's IdP for jane@acme.com.
    let assertion = Assertion::new("00u1jane", [("firstName", "Jane"), ("lastName", "Doe")])
        .with_email("jane@acme.com");
    let signed = svc.record_sign_in(&saml.id, &assertion).await?;
    println!(
        "sign-in {} -> account {} created={} connection state={}",
        signed.account.email_address,
        signed.account.id,
        signed.created,
        signed.connection.state().as_str()
    );
    let stranger = Assertion::new("x", []).with_email("mallory@evil.example");
    match svc.record_sign_in(&saml.id, &stranger).await {
        Err(e) => println!("refused sign-in: {e}"),
        Ok(_) => return Err("a sign-in from outside the connection's domains was accepted".into()),
    }

    for email in [
        "jane@acme.com",
        "joe@eu.acme.com",
        "ann@globex.example",
        "bob@unknown.example",
    ] {
        match svc.route_email(email).await? {
            Some(c) => println!("route {email} -> {} ({})", c.id, c.name),
            None => println!("route {email} -> no enterprise connection"),
        }
    }
    Ok(())
}
