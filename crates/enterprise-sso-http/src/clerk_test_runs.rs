//! Clerk's connection test runs: `POST /v1/enterprise_connections/{id}/test_runs` (a
//! short-lived URL that starts a test run) and `GET …/test_runs` (the runs, newest first,
//! filtered by `status` (repeatable), paged by `limit` and `offset`). The rules are the
//! flows crate's (`Flows::create_test_run`, `list_test_runs`); the URL is served by the
//! hosted sign-in routes (`GET {sp_base}/{id}/test_runs/{token}`), so test runs need them.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use enterprise_sso::limits::MAX_LIMIT;
use enterprise_sso::Store;
use enterprise_sso_flows::{TestRunQuery, TestRunStatus};
use enterprise_sso_wire::{codes, ApiErrors, TestRunListJson, TestRunUrlJson};

use crate::envelope::{json, HttpError, Vendor};
use crate::query::{Query, MAX_OFFSET};
use crate::state::{core, parse_id, AppState};

const V: Vendor = Vendor::Clerk;

type St<S> = State<Arc<AppState<S>>>;
type Answer = Result<Response, HttpError>;

fn refuse(e: ApiErrors) -> HttpError {
    HttpError::new(V, e)
}

/// The default page size of the list (the reference's `LimitParameter`).
const DEFAULT_LIMIT: usize = 10;

pub(crate) async fn create<S: Store>(State(st): St<S>, Path(raw): Path<String>) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    let base =
        match (&st.opts.sign_in, &st.opts.sp_base_url) {
            (Some(_), Some(base)) => base.trim_end_matches('/').to_owned(),
            _ => return Err(refuse(ApiErrors::single(
                404,
                codes::RESOURCE_NOT_FOUND,
                "not available",
                "Test runs need the hosted sign-in routes (an SP base URL and sign-in options).",
                None,
            ))),
        };
    let random = crate::sso::random::<32>().map_err(|_| {
        refuse(ApiErrors::single(
            500,
            codes::INTERNAL,
            "no randomness",
            "The test run could not be created.",
            None,
        ))
    })?;
    let made = st
        .flows
        .create_test_run(&id, random)
        .await
        .map_err(|e| core(V, &e))?;
    let url = format!("{base}/{id}/test_runs/{}", made.token);
    Ok(json(StatusCode::OK, &TestRunUrlJson { url: &url }))
}

fn invalid(param: &str, why: &str) -> ApiErrors {
    ApiErrors::single(
        422,
        codes::PARAM_FORMAT_INVALID,
        "is invalid",
        format!("{param} {why}"),
        Some(param),
    )
}

/// `status` (repeatable, or comma-separated), `limit`, `offset`.
fn list_query(raw: Option<&str>) -> Result<TestRunQuery, ApiErrors> {
    let p = Query::parse(raw, &["limit", "offset"])?;
    let mut statuses = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if k != "status" && k != "status[]" {
            continue;
        }
        for s in v.split(',').filter(|s| !s.is_empty()) {
            let s = TestRunStatus::parse(s)
                .ok_or_else(|| invalid("status", "must be pending, success or failed"))?;
            if !statuses.contains(&s) {
                statuses.push(s);
            }
        }
    }
    Ok(TestRunQuery {
        statuses,
        limit: p.int("limit", 1, MAX_LIMIT, DEFAULT_LIMIT)?,
        offset: p.int("offset", 0, MAX_OFFSET, 0)?,
    })
}

pub(crate) async fn list<S: Store>(
    State(st): St<S>,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let id = parse_id(&raw).map_err(refuse)?;
    let query = list_query(q.as_deref()).map_err(refuse)?;
    let page = st
        .flows
        .list_test_runs(&id, &query)
        .await
        .map_err(|e| core(V, &e))?;
    Ok(json(StatusCode::OK, &TestRunListJson::new(&page)))
}
