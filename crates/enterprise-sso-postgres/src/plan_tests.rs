//! Every statement the adapter issues is an index search: a store is filled with 10,000+
//! connections and accounts, analysed, and `EXPLAIN (FORMAT JSON)` of each statement (every
//! listing shape included) must not contain a sequential scan. Needs the test server
//! (`SSO_TEST_POSTGRES_URL`; see `scripts/with-postgres.sh`).
#![allow(clippy::unwrap_used)]

use enterprise_sso::testing::{account_for, saml_connection};
use enterprise_sso::{AccountRepo, ConnectionRepo, Domain, ListQuery, Order, Provider};
use tokio_postgres::types::ToSql;

use crate::test_server::url;
use crate::{PostgresOptions, PostgresRepo};

type Args = Vec<Box<dyn ToSql + Sync + Send>>;

fn seq_scans(plan: &serde_json::Value, out: &mut Vec<String>) {
    match plan {
        serde_json::Value::Object(o) => {
            if o.get("Node Type").and_then(|v| v.as_str()) == Some("Seq Scan") {
                out.push(
                    o.get("Relation Name")
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                        .to_owned(),
                );
            }
            o.values().for_each(|v| seq_scans(v, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| seq_scans(v, out)),
        _ => {}
    }
}

fn s(v: &str) -> Box<dyn ToSql + Sync + Send> {
    Box::new(v.to_owned())
}

/// Parameters of the compare-and-swap statements: `update` with `domain`,
/// `update_same_domains` without.
fn update_args(id: &str, domain: Option<&str>) -> Args {
    let mut args: Args = vec![
        s(id),
        Box::new(1i64),
        Box::new(2i64),
        Box::new(vec![1u8]),
        Box::new(None::<String>),
        Box::new(true),
        s("saml_custom"),
        Box::new(None::<i64>),
    ];
    if let Some(d) = domain {
        args.push(Box::new(vec![d.to_owned()]));
    }
    args.push(Box::new(vec![1i64]));
    args.push(Box::new(vec![vec![1u8]]));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_is_an_index_search() {
    let Some(url) = url() else { return };
    let schema = format!("plans_{}", std::process::id());
    let repo = PostgresRepo::connect_with(
        &url,
        PostgresOptions {
            schema: schema.clone(),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap();
    // 10,240 connections (a quarter active, orgs of 8, each with a domain and an account).
    let mut tasks = Vec::new();
    for t in 0..16 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..640 {
                let n: u32 = t * 640 + i;
                let mut c = saml_connection(
                    &format!("p{n}"),
                    &[&format!("d{n}.plans.example.com")],
                    n.is_multiple_of(4),
                );
                c.organization_id = Some(format!("org_{}", n / 8));
                if n.is_multiple_of(3) {
                    c.provider = Provider::SamlOkta;
                }
                repo.insert(&c).await.unwrap();
                repo.insert_account(&account_for(&c, &format!("s{n}"), &format!("u{n}@x.com")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let client = repo.pool().get().await.unwrap();
    for table in ["connections", "connection_domains", "accounts"] {
        client
            .batch_execute(&format!("VACUUM ANALYZE {schema}.{table}"))
            .await
            .unwrap();
    }
    let sample = repo
        .list(&ListQuery {
            limit: 1,
            ..ListQuery::default()
        })
        .await
        .unwrap()
        .items
        .remove(0);
    let id = sample.id.to_string();
    let sql = &repo.inner.sql;
    let ids = vec![id.clone()];
    let mut cases: Vec<(String, String, Args)> = vec![
        ("get".into(), sql.get.clone(), vec![s(&id)]),
        (
            "by domain".into(),
            sql.by_domain.clone(),
            vec![s("d5.plans.example.com")],
        ),
        (
            "insert".into(),
            sql.insert.clone(),
            vec![
                s("ent_new"),
                Box::new(None::<String>),
                Box::new(true),
                s("saml_custom"),
                Box::new(1i64),
                Box::new(None::<i64>),
                Box::new(vec![1u8]),
                Box::new(vec!["new.plans.example.com".to_owned()]),
                Box::new(vec![1i64]),
                Box::new(vec![vec![1u8]]),
            ],
        ),
        (
            "update, same domains".into(),
            sql.update_same_domains.clone(),
            update_args(&id, None),
        ),
        (
            "update".into(),
            sql.update.clone(),
            update_args(&id, Some("d1.plans.example.com")),
        ),
        (
            "get for update".into(),
            sql.get_for_update.clone(),
            vec![s(&id)],
        ),
        (
            "events after".into(),
            sql.events_after.clone(),
            vec![Box::new(0i64), Box::new(10i64)],
        ),
        (
            "lock for delete".into(),
            sql.lock_for_delete.clone(),
            vec![s(&id)],
        ),
        ("delete".into(), sql.delete.clone(), vec![s(&id)]),
        (
            "expiring".into(),
            sql.expiring.clone(),
            vec![Box::new(0i64)],
        ),
        (
            "account get".into(),
            sql.account_get.clone(),
            vec![s("eac_x")],
        ),
        (
            "account by subject".into(),
            sql.account_by_subject.clone(),
            vec![s(&id), s("s1")],
        ),
        (
            "account id by subject".into(),
            sql.account_id_by_subject.clone(),
            vec![s(&id), s("s1")],
        ),
        (
            "account by email".into(),
            sql.account_by_email.clone(),
            vec![s("u1@x.com")],
        ),
        (
            "account list asc".into(),
            sql.account_list_asc.clone(),
            vec![s(&id), s(""), Box::new(11i64)],
        ),
        (
            "account list desc".into(),
            sql.account_list_desc.clone(),
            vec![s(&id), s("~"), Box::new(11i64)],
        ),
        (
            "account update".into(),
            sql.account_update.clone(),
            vec![
                s("eac_x"),
                Box::new(1i64),
                s("k"),
                Box::new(2i64),
                Box::new(vec![1u8]),
                Box::new(Some(id.clone())),
                Box::new(Some("s1".to_owned())),
                Box::new(vec![1i64]),
                Box::new(vec![vec![1u8]]),
            ],
        ),
        (
            "account insert".into(),
            sql.account_insert.clone(),
            vec![
                s("eac_new"),
                Box::new(Some(id.clone())),
                Box::new(Some("s-new".to_owned())),
                s("k"),
                Box::new(1i64),
                Box::new(vec![1u8]),
                Box::new(vec![1i64]),
                Box::new(vec![vec![1u8]]),
            ],
        ),
        (
            "account for update".into(),
            sql.account_get_for_update.clone(),
            vec![s("eac_x")],
        ),
        (
            "account delete".into(),
            sql.account_delete.clone(),
            vec![s("eac_x"), Box::new(vec![1i64]), Box::new(vec![vec![1u8]])],
        ),
        (
            "accounts of connection".into(),
            sql.accounts_of_connection.clone(),
            vec![s(&id)],
        ),
        (
            "unlink accounts".into(),
            sql.unlink_accounts.clone(),
            vec![
                Box::new(ids.clone()),
                Box::new(vec![2i64]),
                Box::new(vec![vec![1u8]]),
            ],
        ),
    ];
    // Every listing and count shape.
    for domain in [None, Some(Domain::parse("d7.plans.example.com").unwrap())] {
        for org in [None, Some("org_3".to_owned())] {
            for active in [None, Some(true)] {
                for provider in [None, Some(Provider::SamlOkta)] {
                    for order in [Order::Asc, Order::Desc] {
                        for after in [None, Some(sample.id.clone())] {
                            let q = ListQuery {
                                organization_id: org.clone(),
                                active,
                                provider,
                                domain: domain.clone(),
                                after,
                                limit: 10,
                                order,
                                offset: 20,
                                ..Default::default()
                            };
                            let (sql, args) = crate::connections::select_sql(&schema, &q, true);
                            cases.push((format!("list {q:?}"), sql, args));
                            // A count that matches a large share of the table (no filter,
                            // or only `active`/`provider`) reads that share whichever way:
                            // the planner may rightly prefer the heap to the index (it does
                            // since records shrank below PostgreSQL's TOAST threshold).
                            if q.organization_id.is_some() || q.domain.is_some() {
                                let (sql, args) =
                                    crate::connections::select_sql(&schema, &q, false);
                                cases.push((format!("count {q:?}"), sql, args));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut bad = Vec::new();
    for (what, sql, args) in &cases {
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let row = client
            .query_one(&format!("EXPLAIN (FORMAT JSON) {sql}"), &params)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let plan: serde_json::Value = row.get(0);
        let mut scans = Vec::new();
        seq_scans(&plan, &mut scans);
        if !scans.is_empty() {
            bad.push(format!("{what}: sequential scan of {scans:?}\n  {plan}"));
        }
    }
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
