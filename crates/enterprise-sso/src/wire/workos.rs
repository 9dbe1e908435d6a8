//! The WorkOS `Connection` view (seed 003) and list envelope.

use serde::Serialize;

use crate::connection::EnterpriseConnection;
use crate::repo::{ListQuery, Page};

/// Unix ms as ISO-8601 UTC with milliseconds, e.g. `2021-06-25T19:07:33.155Z`.
pub fn iso8601_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        // Out of the representable range (±9999 years): clamp to the epoch's text.
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// One entry of `domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkosDomainJson {
    /// Stable id derived from the domain: `conn_dom_` + the domain.
    pub id: String,
    /// Always `connection_domain`.
    pub object: &'static str,
    /// The domain.
    pub domain: String,
}

/// A connection as WorkOS shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkosConnectionJson<'a> {
    /// Always `connection`.
    pub object: &'static str,
    /// Connection id.
    pub id: &'a str,
    /// Organization, if any; left out when there is none (the WorkOS SDK types it as an
    /// optional string, not a nullable one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<&'a str>,
    /// WorkOS type, e.g. `OktaSAML`.
    pub connection_type: &'static str,
    /// Name.
    pub name: &'a str,
    /// `active`, `inactive` or `validating`.
    pub state: &'static str,
    /// Domains.
    pub domains: Vec<WorkosDomainJson>,
    /// ISO-8601.
    pub created_at: String,
    /// ISO-8601.
    pub updated_at: String,
}

impl<'a> WorkosConnectionJson<'a> {
    /// The WorkOS view of a connection.
    pub fn new(c: &'a EnterpriseConnection) -> Self {
        WorkosConnectionJson {
            object: "connection",
            id: c.id.as_str(),
            organization_id: c.organization_id.as_deref(),
            connection_type: c.provider.workos_connection_type().as_str(),
            name: &c.name,
            state: c.state().as_str(),
            domains: c
                .domains
                .iter()
                .map(|d| WorkosDomainJson {
                    id: format!("conn_dom_{d}"),
                    object: "connection_domain",
                    domain: d.to_string(),
                })
                .collect(),
            created_at: iso8601_ms(c.created_at),
            updated_at: iso8601_ms(c.updated_at),
        }
    }
}

/// `list_metadata` of a WorkOS list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkosListMetadata {
    /// Cursor for the page before this one (`null` on the first page).
    pub before: Option<String>,
    /// Cursor for the page after this one (`null` at the end).
    pub after: Option<String>,
}

/// `{object: "list", data, list_metadata}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkosListJson<'a> {
    /// Always `list`.
    pub object: &'static str,
    /// One page.
    pub data: Vec<WorkosConnectionJson<'a>>,
    /// Cursors.
    pub list_metadata: WorkosListMetadata,
}

impl<'a> WorkosListJson<'a> {
    /// The envelope of a page from [`crate::Connections::list`]: `after` is the page's
    /// next cursor, `before` its previous one (`null` on the first page and at the end).
    /// `query` is the query the page answers (kept for callers; the cursors come from
    /// the page).
    pub fn new(query: &ListQuery, page: &'a Page) -> Self {
        let _ = query;
        WorkosListJson {
            object: "list",
            data: page.items.iter().map(WorkosConnectionJson::new).collect(),
            list_metadata: WorkosListMetadata {
                before: page.prev_cursor.as_ref().map(|c| c.to_string()),
                after: page.next_cursor.as_ref().map(|c| c.to_string()),
            },
        }
    }
}
