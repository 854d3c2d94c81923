//! The journal backends the suites run on: redb (a file in the test's
//! folder) and PostgreSQL (a fresh schema of the server `cargo xtask test`
//! starts, named in `CAIRN_TEST_POSTGRES`), so that one test body checks
//! both. [`on_backends!`](crate::on_backends) makes a test of each.
//!
//! Without `CAIRN_TEST_POSTGRES`, the PostgreSQL variants print a notice
//! and pass, unless the run says PostgreSQL is required (`CI`, or
//! `CAIRN_TEST_POSTGRES_REQUIRED`, which xtask sets): then they fail.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use cairn_host::{Host, Policy};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "CAIRN_TEST_POSTGRES";

/// Where a test's journal lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A redb file.
    Redb,
    /// A schema of the test PostgreSQL server.
    Postgres,
}

impl Backend {
    /// PostgreSQL, when the run has a server; `None` (after a notice) when
    /// it has none and does not require one.
    pub fn postgres() -> Option<Backend> {
        if std::env::var_os(URL_VAR).is_some() {
            return Some(Backend::Postgres);
        }
        let required = std::env::var_os("CI").is_some()
            || std::env::var_os("CAIRN_TEST_POSTGRES_REQUIRED").is_some();
        assert!(
            !required,
            "{URL_VAR} is not set, and this run requires PostgreSQL: run the tests with \
             `cargo xtask test` (or `cargo xtask with-postgres cargo test …`)"
        );
        eprintln!("skipped on PostgreSQL: {URL_VAR} is not set (`cargo xtask test` sets it)");
        None
    }

    /// A fresh journal for one test: `journal.redb` in `dir`, or the URL
    /// of a new, empty schema. Open it as often as the test likes: it is
    /// the same journal each time.
    pub fn journal(self, dir: &Path) -> PathBuf {
        match self {
            Backend::Redb => dir.join("journal.redb"),
            Backend::Postgres => PathBuf::from(fresh_schema()),
        }
    }

    /// The backend's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Redb => "redb",
            Backend::Postgres => "postgres",
        }
    }
}

/// A host on `journal` with `policy`, sharing the run's engine.
pub fn host_on(journal: &Path, policy: Policy) -> Host {
    Host::builder()
        .journal(journal)
        .engine(crate::engine())
        .policy(policy)
        .open()
        .expect("host opens")
}

/// The URL of a new, empty schema of the test server (made on a thread of
/// its own, so it works from any context).
fn fresh_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var(URL_VAR).expect("the PostgreSQL backend needs its server");
    let schema = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
    let server = url.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .expect("the test PostgreSQL server answers");
            let driver = tokio::spawn(connection);
            client.batch_execute(&sql).await.expect("a schema is made");
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("the schema thread ends");
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}options=-csearch_path%3D{schema}")
}

/// How long a PostgreSQL claim lasts in the `cairn` processes of tests: a
/// process killed by a test leaves its claims for this long.
pub const TEST_LEASE: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a PostgreSQL claim lasts in tests where several live processes
/// share a journal and none is killed: a live process renews its claims
/// every third of the lease, so a short lease lets one that merely stalls
/// on a loaded machine (for under a lease) lose its executions to the
/// other, which is not what those tests are about.
pub const LIVE_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// A `cairn` command on `journal`, sharing the run's artifact cache, with
/// claims of [`TEST_LEASE`].
pub fn cairn_on(journal: &Path) -> std::process::Command {
    cairn_with_lease(journal, TEST_LEASE)
}

/// A `cairn` command on `journal`, sharing the run's artifact cache, with
/// claims of `lease` (whole milliseconds).
pub fn cairn_with_lease(journal: &Path, lease: std::time::Duration) -> std::process::Command {
    let mut command = std::process::Command::new(crate::cairn_bin());
    command
        .arg("--journal")
        .arg(journal)
        .env("CAIRN_ARTIFACTS", crate::artifact_dir())
        .env("CAIRN_LEASE", format!("{}ms", lease.as_millis()))
        .env_remove("CAIRN_JOURNAL");
    command
}

/// Makes, for each test body given, a module of that name with one test
/// per backend: `name::redb` and `name::postgres`. The body sees the
/// backend under the name given in parentheses; `async fn` and `fn` bodies
/// both work, each with its attributes (`#[tokio::test]`, `#[test]`):
///
/// ```ignore
/// on_backends! {
///     #[tokio::test]
///     async fn resume_works(backend) {
///         let dir = temp();
///         let host = host_on(&backend.journal(dir.path()), Policy::default());
///         …
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_backends {
    () => {};
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        mod $name {
            use super::*;

            $(#[$meta])*
            async fn redb() {
                let $backend = $crate::backend::Backend::Redb;
                $body
            }

            $(#[$meta])*
            async fn postgres() {
                let Some($backend) = $crate::backend::Backend::postgres() else {
                    return;
                };
                $body
            }
        }
        $crate::on_backends! { $($rest)* }
    };
    ($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block $($rest:tt)*) => {
        mod $name {
            use super::*;

            $(#[$meta])*
            fn redb() {
                let $backend = $crate::backend::Backend::Redb;
                $body
            }

            $(#[$meta])*
            fn postgres() {
                let Some($backend) = $crate::backend::Backend::postgres() else {
                    return;
                };
                $body
            }
        }
        $crate::on_backends! { $($rest)* }
    };
}
