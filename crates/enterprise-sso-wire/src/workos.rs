//! The WorkOS `Connection` view (seed 003) and list envelope.

use serde::Serialize;

use enterprise_sso::EnterpriseConnection;
use enterprise_sso::{ListQuery, Page};

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
            created_at: iso8601_ms(c.created_at.get()),
            updated_at: iso8601_ms(c.updated_at.get()),
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
    /// The envelope of a page from [`enterprise_sso::Connections::list`]: `after` is the page's
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

/// WorkOS's `authentication.*` event data for a sign-in event: `{type: "sso", status,
/// user_id, email, ip_address, user_agent, sso: {organization_id, connection_id,
/// session_id}}` (the user is the enterprise account; the address and agent are not
/// recorded, so `null`); a failure adds `error: {code, message}` with the typed reason.
fn authentication_data(e: &enterprise_sso::events::Event) -> Option<serde_json::Value> {
    use enterprise_sso::events::EventKind;
    let status = match e.kind {
        EventKind::SsoSucceeded => "succeeded",
        EventKind::SsoFailed => "failed",
        _ => return None,
    };
    let a = e.account.as_ref();
    let mut data = serde_json::json!({
        "type": "sso",
        "status": status,
        "user_id": a.map(|a| a.id.to_string()),
        "email": a.map(|a| a.email_address.clone()),
        "ip_address": null,
        "user_agent": null,
        "sso": {
            "organization_id": null,
            "connection_id": e.connection_id.as_ref().map(|c| c.to_string()),
            "session_id": null,
        },
    });
    if let (Some(f), serde_json::Value::Object(m)) = (&e.failure, &mut data) {
        m.insert(
            "error".into(),
            serde_json::json!({"code": f.code, "message": f.message}),
        );
    }
    Some(data)
}

/// A change-feed event as a webhook body, in the WorkOS event style:
/// `{id, event, data, created_at}`. `data` is the connection's WorkOS view (plus
/// `changed` for `connection.updated` and `days_until_expiry` for
/// `connection.saml_certificate_renewal_required`), or for account events the Clerk
/// `EnterpriseAccount` view. Never a client secret: events carry none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkosEventJson {
    /// `evt_…`, stable: a consumer that receives it twice can tell.
    pub id: String,
    /// e.g. `connection.activated`.
    pub event: &'static str,
    /// The record.
    pub data: serde_json::Value,
    /// ISO-8601.
    pub created_at: String,
}

impl WorkosEventJson {
    /// The webhook body of `e`.
    pub fn new(e: &enterprise_sso::events::Event) -> Self {
        if let Some(data) = authentication_data(e) {
            return WorkosEventJson {
                id: e.id.to_string(),
                event: e.kind.as_str(),
                data,
                created_at: iso8601_ms(e.created_at.get()),
            };
        }
        let mut data = match (&e.connection, &e.account) {
            (Some(c), _) if e.account.is_none() => {
                serde_json::to_value(WorkosConnectionJson::new(c)).unwrap_or_default()
            }
            (_, Some(a)) => {
                serde_json::to_value(crate::EnterpriseAccountJson::new(a, None)).unwrap_or_default()
            }
            _ => serde_json::Value::Object(serde_json::Map::new()),
        };
        if let serde_json::Value::Object(m) = &mut data {
            if !e.changed.is_empty() {
                m.insert("changed".into(), serde_json::json!(e.changed));
            }
            if let Some(d) = e.days_until_expiry {
                m.insert("days_until_expiry".into(), serde_json::json!(d));
            }
        }
        WorkosEventJson {
            id: e.id.to_string(),
            event: e.kind.as_str(),
            data,
            created_at: iso8601_ms(e.created_at.get()),
        }
    }
}
