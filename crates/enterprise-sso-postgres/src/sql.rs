//! The SQL text of every statement, with the schema name spliced in once at open (the
//! name is checked to be a plain identifier first). Every statement is an index search;
//! `tests/plans.rs` checks each with `EXPLAIN` on a filled store.

/// Statements of one store.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub schema: String,
    pub get: String,
    pub by_domain: String,
    pub insert: String,
    pub update: String,
    pub update_same_domains: String,
    pub lock_for_delete: String,
    pub delete: String,
    pub expiring: String,
    pub account_get: String,
    pub account_by_subject: String,
    pub account_id_by_subject: String,
    pub account_by_email: String,
    pub account_list_asc: String,
    pub account_list_desc: String,
    pub account_insert: String,
    pub account_update: String,
    pub account_delete: String,
    pub account_get_for_update: String,
    pub accounts_of_connection: String,
    pub unlink_accounts: String,
    pub get_for_update: String,
    pub insert_events: String,
    pub has_unplaced: String,
    pub place_events: String,
    pub events_after: String,
    pub prune_events: String,
    pub event_floor: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Sql {
        // The columns a compare-and-swap writes ($3 to $8), and the insert of a write's
        // events (times and records as two arrays, in the order given).
        let set = "version = $3, record = $4, organization_id = $5, active = $6, \
                   provider = $7, cert_expires_at = $8";
        let append = |times: u8, records: u8, condition: &str| {
            format!(
                "INSERT INTO {s}.events (created_at, record) \
                 SELECT t, r FROM unnest(${times}::bigint[], ${records}::bytea[]) \
                 WITH ORDINALITY AS u(t, r, n) {condition} ORDER BY n"
            )
        };
        Sql {
            schema: s.to_owned(),
            get: format!("SELECT record FROM {s}.connections WHERE id = $1"),
            by_domain: format!(
                "SELECT c.record FROM {s}.connection_domains d \
                 JOIN {s}.connections c ON c.id = d.connection_id WHERE d.domain = $1"
            ),
            // One statement (so one implicit transaction, one round trip): a claim held by
            // another connection stops the write and is named; the connection row, its
            // claims and its events ($9, $10: times and records) otherwise. A claim committed by another writer after this statement's
            // snapshot makes the INSERT fail with a unique violation, which the adapter
            // retries: the retry sees that claim and names it. An id that exists already is
            // reported as such before any domain (as every store does), so a domain it
            // claims itself is no conflict.
            insert: format!(
                "WITH conflict AS (
                    SELECT domain FROM {s}.connection_domains
                    WHERE domain = ANY ($8::text[])
                      AND NOT EXISTS (SELECT 1 FROM {s}.connections WHERE id = $1)
                    LIMIT 1),
                 ins AS (
                    INSERT INTO {s}.connections
                        (id, organization_id, active, provider, version, cert_expires_at, record)
                    SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM conflict)
                    ON CONFLICT (id) DO NOTHING RETURNING id),
                 claimed AS (
                    INSERT INTO {s}.connection_domains (domain, connection_id)
                    SELECT d, $1 FROM unnest($8::text[]) AS d WHERE EXISTS (SELECT 1 FROM ins))
                 , appended AS ({})
                 SELECT (SELECT count(*) FROM ins), (SELECT domain FROM conflict)",
                append(9, 10, "WHERE EXISTS (SELECT 1 FROM ins)")
            ),
            // Compare-and-swap on the version, the released claims and the new ones, and
            // the write's events ($10, $11: times and records, appended only if the row was
            // written), in one statement, under the same rules as `insert`.
            update: format!(
                "WITH conflict AS (
                    SELECT domain FROM {s}.connection_domains
                    WHERE domain = ANY ($9::text[]) AND connection_id <> $1 LIMIT 1),
                 upd AS (
                    UPDATE {s}.connections SET {set}
                    WHERE id = $1 AND version = $2 AND NOT EXISTS (SELECT 1 FROM conflict)
                    RETURNING id),
                 released AS (
                    DELETE FROM {s}.connection_domains
                    WHERE connection_id = $1 AND EXISTS (SELECT 1 FROM upd)
                      AND NOT (domain = ANY ($9::text[])))
                 , claimed AS (
                    INSERT INTO {s}.connection_domains (domain, connection_id)
                    SELECT d, $1 FROM unnest($9::text[]) AS d
                    WHERE EXISTS (SELECT 1 FROM upd) AND NOT EXISTS (
                        SELECT 1 FROM {s}.connection_domains o
                        WHERE o.domain = d AND o.connection_id = $1))
                 , appended AS ({})
                 SELECT (SELECT count(*) FROM upd), (SELECT domain FROM conflict)",
                append(10, 11, "WHERE EXISTS (SELECT 1 FROM upd)")
            ),
            // `update` for a write that keeps the connection's domains (most updates):
            // no claim to check, release or take. $9, $10: the events.
            update_same_domains: format!(
                "WITH upd AS (
                    UPDATE {s}.connections SET {set} WHERE id = $1 AND version = $2
                    RETURNING id),
                 appended AS ({})
                 SELECT (SELECT count(*) FROM upd), NULL::text",
                append(9, 10, "WHERE EXISTS (SELECT 1 FROM upd)")
            ),
            lock_for_delete: format!("SELECT 1 FROM {s}.connections WHERE id = $1 FOR UPDATE"),
            delete: format!("DELETE FROM {s}.connections WHERE id = $1"),
            expiring: format!(
                "SELECT record FROM {s}.connections \
                 WHERE cert_expires_at < $1 ORDER BY cert_expires_at, id"
            ),
            account_get: format!("SELECT record FROM {s}.accounts WHERE id = $1"),
            account_by_subject: format!(
                "SELECT record FROM {s}.accounts \
                 WHERE connection_id = $1 AND provider_user_id = $2"
            ),
            account_id_by_subject: format!(
                "SELECT id FROM {s}.accounts WHERE connection_id = $1 AND provider_user_id = $2"
            ),
            account_by_email: format!(
                "SELECT record FROM {s}.accounts WHERE email_key = $1 ORDER BY id"
            ),
            account_list_asc: format!(
                "SELECT record FROM {s}.accounts \
                 WHERE connection_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3"
            ),
            account_list_desc: format!(
                "SELECT record FROM {s}.accounts \
                 WHERE connection_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            ),
            // One statement (one implicit transaction, one round trip): a linked account
            // takes a share lock on its connection's row, so it cannot be linked to a
            // connection being deleted; the row and its events ($7, $8) are written only if
            // that connection exists (the count says which). A unique violation (id or
            // subject taken) fails the whole statement.
            account_insert: format!(
                "WITH conn AS (
                    SELECT 1 FROM {s}.connections WHERE id = $2 FOR SHARE),
                 ins AS (
                    INSERT INTO {s}.accounts
                        (id, connection_id, provider_user_id, email_key, version, record)
                    SELECT $1, $2, $3, $4, $5, $6
                    WHERE $2::text IS NULL OR EXISTS (SELECT 1 FROM conn)
                    RETURNING id)
                 , appended AS ({})
                 SELECT count(*) FROM ins",
                append(7, 8, "WHERE EXISTS (SELECT 1 FROM ins)")
            ),
            // Compare-and-swap (connection and provider user id must be the stored ones)
            // and the write's events ($8, $9), appended only if the row was written.
            account_update: format!(
                "WITH upd AS (
                    UPDATE {s}.accounts SET email_key = $3, version = $4, record = $5
                    WHERE id = $1 AND version = $2
                      AND connection_id IS NOT DISTINCT FROM $6
                      AND provider_user_id IS NOT DISTINCT FROM $7
                    RETURNING id)
                 , appended AS ({})
                 SELECT count(*) FROM upd",
                append(8, 9, "WHERE EXISTS (SELECT 1 FROM upd)")
            ),
            // The delete and its events ($2, $3), appended only if a row went.
            account_delete: format!(
                "WITH del AS (DELETE FROM {s}.accounts WHERE id = $1 RETURNING id)
                 , appended AS ({})
                 SELECT count(*) FROM del",
                append(2, 3, "WHERE EXISTS (SELECT 1 FROM del)")
            ),
            account_get_for_update: format!(
                "SELECT record FROM {s}.accounts WHERE id = $1 FOR UPDATE"
            ),
            accounts_of_connection: format!(
                "SELECT record FROM {s}.accounts WHERE connection_id = $1 FOR UPDATE"
            ),
            unlink_accounts: format!(
                "UPDATE {s}.accounts AS a SET connection_id = NULL, version = u.version, \
                    record = u.record \
                 FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS u(id, version, record) \
                 WHERE a.id = u.id"
            ),
            get_for_update: format!("SELECT record FROM {s}.connections WHERE id = $1 FOR UPDATE"),
            // Writers take no position, only a `seq` (the column's default, in the order
            // given); see `events` for why that keeps position order a commit order.
            insert_events: append(1, 2, ""),
            has_unplaced: format!(
                "SELECT EXISTS (SELECT 1 FROM {s}.events WHERE position IS NULL)"
            ),
            // Up to $1 committed events without a position get the next ones, in `seq`
            // order, continuing the counter row (which only this statement writes, under
            // the feed's advisory lock).
            place_events: format!(
                "WITH todo AS (
                    SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM (
                        SELECT seq FROM {s}.events WHERE position IS NULL
                        ORDER BY seq LIMIT $1) AS t),
                 base AS (
                    UPDATE {s}.event_counter SET last = last + (SELECT count(*) FROM todo)
                    WHERE id = 0 RETURNING last - (SELECT count(*) FROM todo) AS last)
                 UPDATE {s}.events AS e SET position = base.last + todo.n
                 FROM todo, base WHERE e.seq = todo.seq"
            ),
            events_after: format!(
                "SELECT position, record FROM {s}.events \
                 WHERE position > $1 ORDER BY position LIMIT $2"
            ),
            // Only placed events (`events::prune` places first): an unplaced one has no
            // position for the floor. The delete and the floor's rise to the largest
            // position deleted are one statement, so one commit; returns how many went.
            prune_events: format!(
                "WITH gone AS (
                    DELETE FROM {s}.events WHERE created_at < $1 AND position IS NOT NULL
                    RETURNING position)
                 UPDATE {s}.event_counter
                 SET pruned_to = greatest(pruned_to, coalesce((SELECT max(position) FROM gone), 0))
                 WHERE id = 0 RETURNING (SELECT count(*) FROM gone)"
            ),
            event_floor: format!("SELECT pruned_to FROM {s}.event_counter WHERE id = 0"),
        }
    }
}
