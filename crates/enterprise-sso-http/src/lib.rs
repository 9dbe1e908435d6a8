//! HTTP API for enterprise-sso, on axum: the Clerk Backend API's enterprise-connection
//! routes and the WorkOS connection routes, so the official Clerk and WorkOS SDKs can
//! manage connections stored by any adapter.
//!
//! [`router`] returns a [`Router`] a host mounts under any prefix (`Router::nest`):
//!
//! | Route | Answer |
//! |---|---|
//! | `POST /v1/enterprise_connections` | 201, `EnterpriseConnection` |
//! | `GET /v1/enterprise_connections` | `{data, total_count}`; `limit` 1..=500 (10), `offset`, `organization_id`, `active`; newest first |
//! | `GET /v1/enterprise_connections/{id}` | `EnterpriseConnection`, with `ETag` |
//! | `PATCH /v1/enterprise_connections/{id}` | `EnterpriseConnection`; `If-Match` → 412 on a stale version |
//! | `DELETE /v1/enterprise_connections/{id}` | `DeletedObject` |
//! | `GET /connections` | WorkOS list; `connection_type`, `domain`, `organization_id`, `limit` 1..=100 (10), `before`, `after`, `order` |
//! | `GET /connections/{id}` | WorkOS `Connection` |
//! | `DELETE /connections/{id}` | 202, no body |
//!
//! With [`HttpOptions::sign_in`] ([`SignInOptions`]: the SAML SP and OIDC RP settings and
//! the OAuth clients), the hosted sign-in routes too, without API key: `GET
//! /sso/authorize`, `POST /sso/token`, `GET /sso/profile` (WorkOS's SSO API), and under the
//! SP base URL's path `POST {base}/{id}/acs`, `GET {base}/{id}/metadata` and `GET
//! {base}/{id}/callback`.
//!
//! Every error, including auth (401), unknown routes (404), wrong methods (405), bodies
//! over the limit (413, refused before parsing), bodies not sent as `Content-Type:
//! application/json` (415), a key given twice in a JSON object (400, naming it) and bodies
//! that do not arrive in time (408), is in the vendor's own envelope with the stable codes of
//! [`enterprise_sso_wire::codes`]. Responses are `application/json`.
//!
//! [`serve`] serves the router with [`ServerLimits`]: a header-read timeout, a keep-alive
//! idle timeout and a cap on connections, with idle and slow connections shed first when
//! every slot is taken. A host may serve the router itself (`axum::serve`, its own hyper
//! server, `Router::nest` into its app); it then keeps the body limits of [`HttpOptions`]
//! but must bound slow and idle connections itself.
//!
//! ```no_run
//! use std::sync::Arc;
//! use enterprise_sso::Connections;
//! use enterprise_sso_memory::MemoryRepo;
//! use enterprise_sso_http::{router, serve, ApiKeys, Auth, ServerLimits};
//! # async fn run() -> std::io::Result<()> {
//! let keys = ApiKeys::from_list("sk_live_example").unwrap().unwrap();
//! let app = router(Arc::new(Connections::new(MemoryRepo::new())), Auth::Keys(keys));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, app, ServerLimits::default(), std::future::pending()).await
//! # }
//! ```

mod access_log;
mod auth;
mod body;
mod clerk;
mod clerk_test_runs;
mod envelope;
mod etag;
mod query;
mod serve;
mod sso;
mod state;
pub mod store_url;
mod workos;

use std::sync::Arc;

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use enterprise_sso::{Connections, Store};
use enterprise_sso_wire::{codes, ApiErrors};

pub use auth::{ApiKey, ApiKeys, Auth, InvalidApiKey};
pub use body::{DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_BODY_BYTES};
pub use envelope::Vendor;
pub use query::MAX_OFFSET;
pub use serve::{
    serve, ServerLimits, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_QUEUE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
};
pub use sso::{InvalidClient, InvalidSignInOptions, OAuthClient, SignInOptions, BROWSER_COOKIE};
pub use state::HttpOptions;
pub use workos::WORKOS_MAX_LIMIT;

/// The API over `connections`, authenticated by `auth`, with default [`HttpOptions`].
pub fn router<S: Store + 'static>(connections: Arc<Connections<S>>, auth: Auth) -> Router {
    router_with(connections, auth, HttpOptions::default())
}

/// The API with explicit options.
pub fn router_with<S: Store + 'static>(
    connections: Arc<Connections<S>>,
    auth: Auth,
    opts: HttpOptions,
) -> Router {
    let sso = opts
        .sign_in
        .clone()
        .map(|s| sso::routes(connections.clone(), s, auth.clone(), &opts));
    let st = Arc::new(state::AppState {
        flows: enterprise_sso_flows::Flows::new(Arc::clone(&connections)),
        svc: connections,
        opts,
    });
    let routes = Router::new()
        .route(
            "/v1/enterprise_connections",
            with_405(get(clerk::list::<S>).post(clerk::create::<S>), "GET, POST"),
        )
        .route(
            "/v1/enterprise_connections/{id}",
            with_405(
                get(clerk::get::<S>)
                    .patch(clerk::update::<S>)
                    .delete(clerk::delete::<S>),
                "GET, PATCH, DELETE",
            ),
        )
        .route(
            "/v1/enterprise_connections/{id}/test_runs",
            with_405(
                get(clerk_test_runs::list::<S>).post(clerk_test_runs::create::<S>),
                "GET, POST",
            ),
        )
        .route("/connections", with_405(get(workos::list::<S>), "GET"))
        .route(
            "/connections/{id}",
            with_405(
                get(workos::get::<S>).delete(workos::delete::<S>),
                "GET, DELETE",
            ),
        )
        .with_state(st)
        .route_layer(axum::middleware::from_fn_with_state(
            auth,
            auth::require_key,
        ));
    // The hosted sign-in routes are not behind the API key: browsers call them, the
    // token endpoint checks the client itself and the profile endpoint the access token.
    let routes = match sso {
        Some(sso) => routes.merge(sso),
        None => routes,
    };
    routes
        .fallback(not_found)
        .layer(axum::middleware::from_fn(access_log::log))
}

/// A route's other methods: 405 in the vendor's envelope, with `Allow`.
fn with_405<St: Clone + Send + Sync + 'static>(
    r: MethodRouter<St>,
    allow: &'static str,
) -> MethodRouter<St> {
    r.fallback(move |method: Method, uri: Uri| async move {
        let mut res = envelope::HttpError::new(
            Vendor::of_path(uri.path()),
            ApiErrors::single(
                405,
                codes::METHOD_NOT_ALLOWED,
                "method not allowed",
                format!("{method} is not allowed here; allowed: {allow}."),
                None,
            ),
        )
        .into_response();
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        res
    })
}

async fn not_found(uri: Uri) -> Response {
    envelope::HttpError::new(
        Vendor::of_path(uri.path()),
        ApiErrors::single(
            StatusCode::NOT_FOUND.as_u16(),
            codes::ROUTE_NOT_FOUND,
            "not found",
            "No such route.",
            None,
        ),
    )
    .into_response()
}
