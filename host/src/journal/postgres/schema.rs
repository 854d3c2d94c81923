//! The PostgreSQL journal's tables, made and versioned by Cairn.
//!
//! Tables live in the connection's current schema (the first of its
//! `search_path`, `public` by default: point Cairn at another one with
//! `?options=-csearch_path%3Dname` in the URL), each named `cairn_…`.
//! Records are stored in the same checksummed envelopes as redb's
//! (`redb::envelope`), so both journals decode them with one code path;
//! the columns beside them (`flow`, `status`, `created_at_us`) are copies
//! for `WHERE` clauses.
//!
//! | table | key | value |
//! |---|---|---|
//! | `cairn_schema_version` | (one row) | the schema's version |
//! | `cairn_components` | blake3 hash | `chunks`: its length and chunk hashes (`journal/chunks.rs`); or, written by version 1, `bytes`: the whole bytes |
//! | `cairn_component_chunks` | blake3 hash of the chunk | the chunk's bytes, once for every component listing it |
//! | `cairn_executions` | id (from `cairn_execution_ids`) | flow, status, created_at_us, envelope |
//! | `cairn_calls` | (exec, seq) | envelope of `CallRecord` |
//! | `cairn_attempts` | (exec, seq, n) | envelope of `AttemptRecord` |
//! | `cairn_cache` | cache key | (exec, seq) of a completed call |
//! | `cairn_waits` | (exec, name) | envelope of `WaitRecord` |
//! | `cairn_times` | (exec, n) | µs since the Unix epoch |
//! | `cairn_timers` | (exec, seq) | envelope of `TimerRecord` |
//! | `cairn_upgrades` | (exec, n) | envelope of `UpgradeRecord` |
//! | `cairn_leases` | exec | epoch, owner, expires_at: who runs it |
//! | `cairn_schedules` | name | envelope of `ScheduleRecord` |
//! | `cairn_children` | (parent, seq) | child: the child flow the parent's step started |
//! | `cairn_stop_requests` | ticket | a cancel or switch of builds asked of the run of `exec` wherever it runs, who asked, until when, and the reply (see `stops`) |
//!
//! `cairn_fence(execs, epochs, owner)` raises [`FENCE_SQLSTATE`] unless
//! `owner` holds each execution's lease at that epoch; every write of an
//! execution under a lease calls it in the same statement (see `leases`).

use deadpool_postgres::GenericClient;

use crate::error::JournalError;

/// The schema this build reads and writes. A database with a newer one is
/// refused with [`JournalError::TooNew`]; an older one is brought up to
/// this one by [`migrate`]. Version 2 stores components as chunks; version 3
/// adds schedules; version 4 requests to stop a run in another process;
/// version 5 links child flows to their parents.
pub(crate) const SCHEMA_VERSION: i64 = 5;

/// The SQLSTATE `cairn_fence` raises when a write's lease was taken over.
pub(crate) const FENCE_SQLSTATE: &str = "CR001";

/// Serialises schema changes between processes starting at once.
const MIGRATION_LOCK: i64 = 0x6361_6972_6e5f_6a31; // "cairn_j1"

/// Version 1, from nothing.
const CREATE: &str = r#"
CREATE TABLE cairn_schema_version (version BIGINT NOT NULL);
CREATE TABLE cairn_components (hash BYTEA PRIMARY KEY, bytes BYTEA NOT NULL);
CREATE SEQUENCE cairn_execution_ids;
CREATE TABLE cairn_executions (
    id BIGINT PRIMARY KEY,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX cairn_executions_status ON cairn_executions (status, id);
CREATE TABLE cairn_calls (
    exec BIGINT NOT NULL, seq BIGINT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (exec, seq)
);
CREATE TABLE cairn_attempts (
    exec BIGINT NOT NULL, seq BIGINT NOT NULL, n BIGINT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (exec, seq, n)
);
CREATE TABLE cairn_cache (key BYTEA PRIMARY KEY, exec BIGINT NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE cairn_waits (
    exec BIGINT NOT NULL, name TEXT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (exec, name)
);
CREATE TABLE cairn_times (
    exec BIGINT NOT NULL, n BIGINT NOT NULL, us BIGINT NOT NULL,
    PRIMARY KEY (exec, n)
);
CREATE TABLE cairn_timers (
    exec BIGINT NOT NULL, seq BIGINT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (exec, seq)
);
CREATE TABLE cairn_upgrades (
    exec BIGINT NOT NULL, n BIGINT NOT NULL, record BYTEA NOT NULL,
    PRIMARY KEY (exec, n)
);
CREATE TABLE cairn_leases (
    exec BIGINT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    owner TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE FUNCTION cairn_fence(execs BIGINT[], epochs BIGINT[], worker TEXT) RETURNS VOID
LANGUAGE plpgsql AS $fence$
DECLARE
    held BIGINT;
BEGIN
    FOR i IN 1 .. coalesce(array_length(execs, 1), 0) LOOP
        -- FOR SHARE: a takeover (an UPDATE of the row) waits for this
        -- write to commit, or this write sees the takeover.
        SELECT epoch INTO held FROM cairn_leases
            WHERE exec = execs[i] AND owner = worker FOR SHARE;
        IF NOT FOUND OR held <> epochs[i] THEN
            RAISE EXCEPTION 'the lease of execution % was taken over', execs[i]
                USING ERRCODE = 'CR001', DETAIL = execs[i]::TEXT;
        END IF;
    END LOOP;
END
$fence$;
INSERT INTO cairn_schema_version (version) VALUES (1);
"#;

/// The steps from each version to the next: `UPGRADES[0]` takes version 1
/// to 2, and so on. Each records its version, and runs in the migration's
/// transaction.
const UPGRADES: &[&str] = &[
    // 2: components as content-defined chunks. Rows of version 1 keep
    // their whole bytes and are read as before.
    r#"
ALTER TABLE cairn_components ALTER COLUMN bytes DROP NOT NULL;
ALTER TABLE cairn_components ADD COLUMN chunks BYTEA;
CREATE TABLE cairn_component_chunks (hash BYTEA PRIMARY KEY, bytes BYTEA NOT NULL);
INSERT INTO cairn_schema_version (version) VALUES (2);
"#,
    // 3: schedules (`cairn schedules`), each a name and its record.
    r#"
CREATE TABLE cairn_schedules (name TEXT PRIMARY KEY, record BYTEA NOT NULL);
INSERT INTO cairn_schema_version (version) VALUES (3);
"#,
    // 4: requests to stop the run of an execution in whichever process
    // holds it (a cancel, or a pause to move it to another build), with
    // who asked, until when they stand, and the holder's reply.
    r#"
CREATE TABLE cairn_stop_requests (
    ticket BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exec BIGINT NOT NULL,
    ask TEXT NOT NULL,
    to_component BYTEA,
    asked_by TEXT NOT NULL,
    asker TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    reply TEXT,
    answer TEXT
);
CREATE INDEX cairn_stop_requests_exec ON cairn_stop_requests (exec);
INSERT INTO cairn_schema_version (version) VALUES (4);
"#,
    // 5: child flows (`cairn_children`): each child's link to the step
    // of its parent that started it.
    r#"
CREATE TABLE cairn_children (
    parent BIGINT NOT NULL, seq BIGINT NOT NULL, child BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (parent, seq)
);
INSERT INTO cairn_schema_version (version) VALUES (5);
"#,
];

/// Runs the steps that take `from` to [`SCHEMA_VERSION`].
async fn upgrade(client: &impl GenericClient, from: i64) -> Result<(), JournalError> {
    for version in from..SCHEMA_VERSION {
        let step = usize::try_from(version - 1)
            .ok()
            .and_then(|i| UPGRADES.get(i));
        if let Some(step) = step {
            client
                .batch_execute(step)
                .await
                .map_err(|e| JournalError::storage("migrating the journal's tables", e))?;
        }
    }
    Ok(())
}

/// What a database holds, as far as Cairn is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No Cairn tables.
    Nothing,
    /// Cairn's tables at this version.
    Version(i64),
}

/// Which version the database holds.
pub(crate) async fn found(client: &impl GenericClient) -> Result<Found, JournalError> {
    let table = client
        .query_one(
            "SELECT to_regclass('cairn_schema_version') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| JournalError::storage("looking for the journal's tables", e))?;
    if !table.get::<_, bool>(0) {
        return Ok(Found::Nothing);
    }
    let row = client
        .query_opt("SELECT max(version) FROM cairn_schema_version", &[])
        .await
        .map_err(|e| JournalError::storage("reading the journal's schema version", e))?;
    Ok(match row.and_then(|r| r.get::<_, Option<i64>>(0)) {
        Some(version) => Found::Version(version),
        None => Found::Nothing,
    })
}

/// Makes the tables if there are none, and checks that their version is
/// the one this build reads: [`JournalError::TooNew`] for a newer one,
/// and brings an older one up to it ([`UPGRADES`]). Safe when
/// several processes do it at once (an advisory lock serialises them).
/// Returns the version found before, if there were tables.
pub(crate) async fn migrate(
    client: &mut deadpool_postgres::Client,
    shown: &std::path::Path,
) -> Result<Option<i64>, JournalError> {
    let fail = |what: &'static str| move |e| JournalError::storage(what, e);
    let txn = client
        .transaction()
        .await
        .map_err(fail("starting the schema transaction"))?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail("locking the schema"))?;
    let before = match found(&txn).await? {
        Found::Nothing => {
            txn.batch_execute(CREATE)
                .await
                .map_err(fail("creating the journal's tables"))?;
            upgrade(&txn, 1).await?;
            None
        }
        Found::Version(version) if (1..SCHEMA_VERSION).contains(&version) => {
            upgrade(&txn, version).await?;
            Some(version)
        }
        Found::Version(version) => {
            check(version, shown)?;
            Some(version)
        }
    };
    txn.commit()
        .await
        .map_err(fail("committing the journal's tables"))?;
    Ok(before)
}

/// Whether this build reads a schema of `version`.
pub(crate) fn check(version: i64, shown: &std::path::Path) -> Result<(), JournalError> {
    let found = u64::try_from(version).unwrap_or(0);
    let supported = SCHEMA_VERSION.unsigned_abs();
    if version > SCHEMA_VERSION {
        return Err(JournalError::TooNew {
            path: shown.to_path_buf(),
            found,
            supported,
        });
    }
    if version < SCHEMA_VERSION {
        return Err(JournalError::TooOld {
            path: shown.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(())
}
