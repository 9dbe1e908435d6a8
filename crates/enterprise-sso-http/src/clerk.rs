//! The Clerk Backend API routes: `/v1/enterprise_connections[/{id}]`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use enterprise_sso::limits::MAX_LIMIT;
use enterprise_sso::{EnterpriseConnection, Error, Store};
use enterprise_sso::{ListQuery, Order};
use enterprise_sso_wire::{decode_create, decode_update, ConnectionJson, DeletedObjectJson};
use serde::Serialize;

use crate::envelope::{json, HttpError, Vendor};
use crate::etag::{self, Precondition};
use crate::query::{Query, MAX_OFFSET};
use crate::state::{core, parse_id, AppState};

const V: Vendor = Vendor::Clerk;

type St<S> = State<Arc<AppState<S>>>;
type Answer = Result<Response, HttpError>;

fn refuse(e: enterprise_sso_wire::ApiErrors) -> HttpError {
    HttpError::new(V, e)
}

fn fail(e: Error) -> HttpError {
    core(V, &e)
}

/// A connection with its `ETag`.
fn one<S: Store>(st: &AppState<S>, status: StatusCode, c: &EnterpriseConnection) -> Response {
    let mut res = json(status, &ConnectionJson::with_sp(c, &st.sp(&c.id)));
    res.headers_mut().insert(header::ETAG, etag::tag(c.version));
    res
}

/// The body of a create or update: declared JSON (415), within the size (413) and time
/// (408, closing the connection) limits.
async fn read_json<S: Store>(
    st: &AppState<S>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, HttpError> {
    crate::body::require_json(headers).map_err(refuse)?;
    crate::body::read(
        headers,
        body,
        st.opts.max_body_bytes,
        st.opts.body_read_timeout,
    )
    .await
    .map_err(refuse)
}

pub(crate) async fn create<S: Store>(State(st): St<S>, headers: HeaderMap, body: Body) -> Answer {
    let bytes = read_json(&st, &headers, body).await?;
    let params = decode_create(&bytes).map_err(refuse)?;
    let c = match &st.opts.metadata_source {
        Some(source) => st.flows.create_resolved(&params, source.as_ref()).await,
        None => st.svc.create(&params).await,
    }
    .map_err(fail)?;
    Ok(one(&st, StatusCode::CREATED, &c))
}

pub(crate) async fn get<S: Store>(State(st): St<S>, Path(raw): Path<String>) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    let c = st.svc.get(&id).await.map_err(fail)?;
    Ok(one(&st, StatusCode::OK, &c))
}

pub(crate) async fn update<S: Store>(
    State(st): St<S>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    let precondition = etag::if_match(&headers).map_err(refuse)?;
    let bytes = read_json(&st, &headers, body).await?;
    let patch = decode_update(&bytes).map_err(refuse)?;
    let source = st.opts.metadata_source.as_deref();
    let any = matches!(precondition, Precondition::Any);
    let result = match (precondition, source) {
        (Precondition::Any, Some(src)) => st.flows.update_resolved(&id, &patch, None, src).await,
        (Precondition::Version(v), Some(src)) => {
            st.flows.update_resolved(&id, &patch, Some(v), src).await
        }
        (Precondition::Any, None) => st.svc.update(&id, &patch).await,
        (Precondition::Version(v), None) => st.svc.update_if_version(&id, v, &patch).await,
        (Precondition::Never, _) => {
            let c = st.svc.get(&id).await.map_err(fail)?;
            return Err(refuse(etag::failed(Some(c.version))));
        }
    };
    match result {
        Ok(c) => Ok(one(&st, StatusCode::OK, &c)),
        Err(Error::VersionConflict { actual, .. }) if !any => {
            Err(refuse(etag::failed(Some(actual))))
        }
        Err(e) => Err(fail(e)),
    }
}

pub(crate) async fn delete<S: Store>(State(st): St<S>, Path(raw): Path<String>) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    st.svc.delete(&id).await.map_err(fail)?;
    Ok(json(StatusCode::OK, &DeletedObjectJson::new(&id)))
}

/// The query parameters of the list route (others are ignored).
const LIST_PARAMS: &[&str] = &["limit", "offset", "organization_id", "active"];

/// [`enterprise_sso_wire::ConnectionListJson`] with the host's SP endpoints in each item.
#[derive(Serialize)]
struct ListBody<'a> {
    data: Vec<ConnectionJson<'a>>,
    total_count: u64,
}

pub(crate) async fn list<S: Store>(State(st): St<S>, RawQuery(raw): RawQuery) -> Answer {
    let q = list_query(raw.as_deref()).map_err(refuse)?;
    let page = st.svc.list(&q).await.map_err(fail)?;
    let total = st.svc.count(&q).await.map_err(fail)?;
    let sp: Vec<_> = page.items.iter().map(|c| st.sp(&c.id)).collect();
    let body = ListBody {
        data: page
            .items
            .iter()
            .zip(&sp)
            .map(|(c, sp)| ConnectionJson::with_sp(c, sp))
            .collect(),
        total_count: total,
    };
    Ok(json(StatusCode::OK, &body))
}

fn list_query(raw: Option<&str>) -> Result<ListQuery, enterprise_sso_wire::ApiErrors> {
    let p = Query::parse(raw, LIST_PARAMS)?;
    Ok(ListQuery {
        organization_id: p.text("organization_id").map(str::to_owned),
        active: p.boolean("active")?,
        limit: p.int("limit", 1, MAX_LIMIT, enterprise_sso::limits::DEFAULT_LIMIT)?,
        offset: p.int("offset", 0, MAX_OFFSET, 0)?,
        order: Order::Desc,
        ..ListQuery::default()
    })
}
