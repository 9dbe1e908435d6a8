//! Error responses in each vendor's own envelope, and JSON responses with the exact
//! `Content-Type: application/json` the SDKs look for.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enterprise_sso_wire::ApiErrors;
use serde::Serialize;

/// Whose API a route belongs to, and so which error envelope it answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// Clerk Backend API: `{"errors": [{code, message, long_message, meta: {param_name}}]}`.
    Clerk,
    /// WorkOS: `{"code", "message", "errors": [{code, field, message}]}`.
    Workos,
}

impl Vendor {
    /// The vendor whose routes live under `path` (as the router sees it): WorkOS for
    /// `/connections…`, Clerk otherwise.
    pub fn of_path(path: &str) -> Vendor {
        if path == "/connections" || path.starts_with("/connections/") {
            Vendor::Workos
        } else {
            Vendor::Clerk
        }
    }
}

/// An error on its way out: the library's envelope plus the vendor that shapes it.
#[derive(Debug)]
pub(crate) struct HttpError {
    /// Which envelope.
    pub vendor: Vendor,
    /// The errors and status.
    pub errors: ApiErrors,
}

impl HttpError {
    /// `errors` in `vendor`'s envelope.
    pub(crate) fn new(vendor: Vendor, errors: ApiErrors) -> Self {
        HttpError { vendor, errors }
    }
}

#[derive(Serialize)]
struct WorkosError<'a> {
    code: &'a str,
    message: &'a str,
    errors: Vec<WorkosFieldError<'a>>,
}

#[derive(Serialize)]
struct WorkosFieldError<'a> {
    code: &'a str,
    field: Option<&'a str>,
    message: &'a str,
}

impl HttpError {
    /// The status to answer with.
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.errors.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The JSON body in the vendor's envelope.
    pub(crate) fn body(&self) -> serde_json::Result<Vec<u8>> {
        match self.vendor {
            Vendor::Clerk => serde_json::to_vec(&self.errors),
            Vendor::Workos => {
                let first = self.errors.errors.first();
                serde_json::to_vec(&WorkosError {
                    code: first.map_or("internal_error", |e| e.code),
                    message: first.map_or("", |e| e.long_message.as_str()),
                    errors: self
                        .errors
                        .errors
                        .iter()
                        .map(|e| WorkosFieldError {
                            code: e.code,
                            field: e.meta.param_name.as_deref(),
                            message: &e.long_message,
                        })
                        .collect(),
                })
            }
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = match self.body() {
            Ok(bytes) => json_bytes(status, bytes),
            Err(_) => status.into_response(),
        };
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the request may never come: the connection cannot carry another.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// `value` as a JSON response with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
