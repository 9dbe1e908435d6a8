//! The WorkOS routes: `GET /connections`, `GET|DELETE /connections/{id}`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use enterprise_sso::{ConnectionId, Domain, Provider, Store};
use enterprise_sso::{ListQuery, Order};
use enterprise_sso_wire::{ApiErrors, WorkosConnectionJson, WorkosListJson};

use crate::envelope::{json, HttpError, Vendor};
use crate::query::Query;
use crate::state::{core, parse_id, AppState};

const V: Vendor = Vendor::Workos;

type St<S> = State<Arc<AppState<S>>>;
type Answer = Result<Response, HttpError>;

fn refuse(e: ApiErrors) -> HttpError {
    HttpError::new(V, e)
}

fn fail(e: enterprise_sso::Error) -> HttpError {
    core(V, &e)
}

/// Largest WorkOS page.
pub const WORKOS_MAX_LIMIT: usize = 100;

pub(crate) async fn get<S: Store>(State(st): St<S>, Path(raw): Path<String>) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    let c = st.svc.get(&id).await.map_err(fail)?;
    Ok(json(StatusCode::OK, &WorkosConnectionJson::new(&c)))
}

/// `202 Accepted` with no body, as WorkOS answers a delete.
pub(crate) async fn delete<S: Store>(State(st): St<S>, Path(raw): Path<String>) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    st.svc.delete(&id).await.map_err(fail)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

const LIST_PARAMS: &[&str] = &[
    "connection_type",
    "domain",
    "organization_id",
    "limit",
    "before",
    "after",
    "order",
];

pub(crate) async fn list<S: Store>(State(st): St<S>, RawQuery(raw): RawQuery) -> Answer {
    let (q, providers) = list_query(raw.as_deref()).map_err(refuse)?;
    let page = match &providers {
        Some(ps) => st.svc.list_any_provider(&q, ps).await,
        None => st.svc.list(&q).await,
    }
    .map_err(fail)?;
    Ok(json(StatusCode::OK, &WorkosListJson::new(&q, &page)))
}

/// The providers a WorkOS `connection_type` filter selects (every provider shown with that
/// type: `GenericOIDC` is all three OIDC providers).
fn providers_of(workos_type: &str) -> Option<Vec<Provider>> {
    let ps: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|p| p.workos_connection_type().as_str() == workos_type)
        .collect();
    (!ps.is_empty()).then_some(ps)
}

fn list_query(raw: Option<&str>) -> Result<(ListQuery, Option<Vec<Provider>>), ApiErrors> {
    let p = Query::parse(raw, LIST_PARAMS)?;
    let cursor = |name| {
        p.parsed(name, "is not a connection id", |v| {
            v.parse::<ConnectionId>().ok()
        })
    };
    let providers = p.parsed(
        "connection_type",
        "must be one of GenericSAML, OktaSAML, GoogleSAML, AzureSAML, GenericOIDC",
        providers_of,
    )?;
    let q = ListQuery {
        organization_id: p.text("organization_id").map(str::to_owned),
        domain: p.parsed("domain", "is not a valid domain", |v| Domain::parse(v).ok())?,
        limit: p.int(
            "limit",
            1,
            WORKOS_MAX_LIMIT,
            enterprise_sso::limits::DEFAULT_LIMIT,
        )?,
        after: cursor("after")?,
        before: cursor("before")?,
        order: p
            .parsed("order", "must be asc or desc", |v| match v {
                "asc" => Some(Order::Asc),
                "desc" => Some(Order::Desc),
                _ => None,
            })?
            .unwrap_or(Order::Desc),
        ..ListQuery::default()
    };
    if q.after.is_some() && q.before.is_some() {
        return Err(ApiErrors::single(
            422,
            enterprise_sso_wire::codes::PARAM_FORMAT_INVALID,
            "is invalid",
            "before cannot be combined with after",
            Some("before"),
        ));
    }
    Ok((q, providers))
}
