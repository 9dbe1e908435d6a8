//! Versioned migrations: each in its own transaction, under a transaction-scoped advisory
//! lock, so replicas that start at the same moment apply each step once; a schema newer
//! than this build is refused before anything is written.

use deadpool_postgres::Client;

use crate::error::PostgresError;

/// Migrations in order; `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
/// `{s}` stands for the schema name. Ids and keys use the "C" collation, so that their
/// order is byte order (ULIDs sort by time) whatever the database's locale.
const MIGRATIONS: &[&str] = &[
    // 1: connections, claimed domains, accounts.
    r#"CREATE TABLE {s}.connections (
        id              text COLLATE "C" NOT NULL,
        organization_id text COLLATE "C",
        active          boolean NOT NULL,
        provider        text COLLATE "C" NOT NULL,
        version         bigint NOT NULL,
        cert_expires_at bigint,
        record          bytea NOT NULL,
        CONSTRAINT connections_pkey PRIMARY KEY (id)
     );
     CREATE INDEX connections_by_org ON {s}.connections (organization_id, id);
     CREATE INDEX connections_by_active ON {s}.connections (active, id);
     CREATE INDEX connections_by_provider ON {s}.connections (provider, id);
     CREATE INDEX connections_by_active_provider ON {s}.connections (active, provider, id);
     CREATE INDEX connections_by_cert_expiry ON {s}.connections (cert_expires_at, id)
        WHERE cert_expires_at IS NOT NULL;
     CREATE TABLE {s}.connection_domains (
        domain        text COLLATE "C" NOT NULL,
        connection_id text COLLATE "C" NOT NULL
            REFERENCES {s}.connections (id) ON DELETE CASCADE,
        CONSTRAINT connection_domains_pkey PRIMARY KEY (domain)
     );
     CREATE INDEX connection_domains_by_connection ON {s}.connection_domains (connection_id);
     CREATE TABLE {s}.accounts (
        id               text COLLATE "C" NOT NULL,
        connection_id    text COLLATE "C",
        provider_user_id text COLLATE "C",
        email_key        text COLLATE "C" NOT NULL,
        version          bigint NOT NULL,
        record           bytea NOT NULL,
        CONSTRAINT accounts_pkey PRIMARY KEY (id)
     );
     CREATE UNIQUE INDEX accounts_by_subject ON {s}.accounts (connection_id, provider_user_id)
        WHERE connection_id IS NOT NULL AND provider_user_id IS NOT NULL;
     CREATE INDEX accounts_by_connection ON {s}.accounts (connection_id, id)
        WHERE connection_id IS NOT NULL;
     CREATE INDEX accounts_by_email ON {s}.accounts (email_key, id);"#,
    // 2: the change feed, positions from one counter row.
    r#"CREATE TABLE {s}.events (
        position   bigint NOT NULL,
        created_at bigint NOT NULL,
        record     bytea NOT NULL,
        CONSTRAINT events_pkey PRIMARY KEY (position)
     );
     CREATE INDEX events_by_time ON {s}.events (created_at);
     CREATE TABLE {s}.event_counter (
        id   integer NOT NULL CHECK (id = 0),
        last bigint NOT NULL,
        CONSTRAINT event_counter_pkey PRIMARY KEY (id)
     );
     INSERT INTO {s}.event_counter (id, last) VALUES (0, 0);"#,
    // 3: writers no longer take positions (see `events`): an event gets a `seq` from a
    // sequence when it is written and its position when a reader first finds it committed.
    // Events of schema 2 keep their positions; their `seq` is their position, and the
    // sequence starts above the counter, so new events sort after them. A writer's insert
    // (position NULL) touches only the `seq` key and `events_unplaced`: the position and
    // time indexes hold placed events only (what `events_after` and pruning read).
    r#"CREATE SEQUENCE {s}.events_seq AS bigint;
     SELECT setval('{s}.events_seq', greatest(last, 1), last > 0) FROM {s}.event_counter;
     ALTER TABLE {s}.events DROP CONSTRAINT events_pkey;
     ALTER TABLE {s}.events ADD COLUMN seq bigint;
     UPDATE {s}.events SET seq = position;
     ALTER TABLE {s}.events
        ALTER COLUMN seq SET NOT NULL,
        ALTER COLUMN seq SET DEFAULT nextval('{s}.events_seq'),
        ALTER COLUMN position DROP NOT NULL,
        ADD CONSTRAINT events_pkey PRIMARY KEY (seq);
     ALTER SEQUENCE {s}.events_seq OWNED BY {s}.events.seq;
     CREATE UNIQUE INDEX events_by_position ON {s}.events (position)
        WHERE position IS NOT NULL;
     DROP INDEX {s}.events_by_time;
     CREATE INDEX events_by_time ON {s}.events (created_at) WHERE position IS NOT NULL;
     CREATE INDEX events_unplaced ON {s}.events (seq) WHERE position IS NULL;"#,
    // 4: the prune floor, the largest position a prune deleted (reported with every page
    // of the feed). A feed that was pruned before (fewer placed events than positions
    // given) starts from the counter, so a consumer that was behind starts over once.
    r#"ALTER TABLE {s}.event_counter ADD COLUMN pruned_to bigint NOT NULL DEFAULT 0;
     UPDATE {s}.event_counter SET pruned_to = last
        WHERE (SELECT count(*) FROM {s}.events WHERE position IS NOT NULL) < last;"#,
    // 5: sign-in records (pending requests, the assertion replay cache, codes and
    // tokens), keyed by kind and hashed key; the expiry index serves the sweep.
    r#"CREATE TABLE {s}.sign_in_items (
        kind          text COLLATE "C" NOT NULL,
        key           text COLLATE "C" NOT NULL,
        connection_id text COLLATE "C",
        created_at    bigint NOT NULL,
        expires_at    bigint NOT NULL,
        payload       bytea NOT NULL,
        CONSTRAINT sign_in_items_pkey PRIMARY KEY (kind, key)
     );
     CREATE INDEX sign_in_items_by_expiry ON {s}.sign_in_items (expires_at);"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A stable 64-bit key for one advisory lock (`purpose`: `migrate`, `feed`) of one schema
/// (FNV-1a).
pub(crate) fn lock_key(purpose: &str, schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let name = format!("enterprise_sso:{purpose}:{schema}");
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// The schema's version, read inside the caller's transaction (0 when there is none).
async fn version(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
) -> Result<i64, PostgresError> {
    let table = format!("{schema}.schema_migrations");
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass($1)::text", &[&table])
        .await?
        .get(0);
    if exists.is_none() {
        return Ok(0);
    }
    let v: Option<i64> = tx
        .query_one(
            &format!("SELECT max(version)::bigint FROM {schema}.schema_migrations"),
            &[],
        )
        .await?
        .get(0);
    Ok(v.unwrap_or(0))
}

/// Brings `schema` to [`SCHEMA_VERSION`], one migration per transaction.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), PostgresError> {
    migrate_to(client, schema, SCHEMA_VERSION).await
}

/// Brings `schema` to version `target` (tests build older schemas with it).
pub(crate) async fn migrate_to(
    client: &mut Client,
    schema: &str,
    target: i64,
) -> Result<(), PostgresError> {
    loop {
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key("migrate", schema)],
        )
        .await?;
        let found = version(&tx, schema).await?;
        if found > SCHEMA_VERSION {
            // Dropping the transaction rolls it back: nothing was written.
            return Err(PostgresError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found >= target {
            tx.commit().await?;
            return Ok(());
        }
        if found == 0 {
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version    bigint PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                 );"
            ))
            .await?;
        }
        let step = usize::try_from(found).unwrap_or(0);
        tx.batch_execute(&MIGRATIONS[step].replace("{s}", schema))
            .await?;
        tx.execute(
            &format!("INSERT INTO {schema}.schema_migrations (version) VALUES ($1)"),
            &[&(found + 1)],
        )
        .await?;
        tx.commit().await?;
    }
}
