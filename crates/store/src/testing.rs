//! Fresh databases for tests: a SQLite file in a temporary folder, or a new PostgreSQL
//! database on the server `GRANTLOG_TEST_POSTGRES_URL` names, dropped afterwards.
//! With `CI` set, a missing `GRANTLOG_TEST_POSTGRES_URL` fails the test instead of
//! skipping it, so CI never passes by skipping.

use sqlx::{Connection, Executor};

use crate::{ConnectOptions, EventStore};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL, for [`EventStore::connect`] or a `grantlog` process.
    pub url: String,
    /// Its backend.
    pub kind: Kind,
    _folder: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database of `kind`, or `None` for PostgreSQL when no server is
    /// configured outside CI.
    pub async fn new(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Sqlite => Some(Self::sqlite()),
            Kind::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite file.
    pub fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("creating a temporary folder");
        let url = format!("sqlite://{}", folder.path().join("grantlog.db").display());
        Self { url, kind: Kind::Sqlite, _folder: Some(folder), postgres: None }
    }

    /// A fresh PostgreSQL database, or `None` when `GRANTLOG_TEST_POSTGRES_URL` is unset
    /// (a failure under CI).
    pub async fn postgres() -> Option<Self> {
        let Ok(server_url) = std::env::var("GRANTLOG_TEST_POSTGRES_URL") else {
            assert!(std::env::var_os("CI").is_none(), "CI is set but GRANTLOG_TEST_POSTGRES_URL is not");
            eprintln!("skipped: GRANTLOG_TEST_POSTGRES_URL is not set");
            return None;
        };
        let name = format!("grantlog_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            sqlx::PgConnection::connect(&server_url).await.expect("connecting to GRANTLOG_TEST_POSTGRES_URL");
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("creating a test database");
        admin.close().await.ok();
        Some(Self {
            url: with_database(&server_url, &name),
            kind: Kind::Postgres,
            _folder: None,
            postgres: Some((server_url, name)),
        })
    }

    /// Runs raw SQL with the log's append-only triggers out of the way: what someone
    /// with administrative access to the database could do, for tamper tests.
    pub async fn tamper(&self, store: &EventStore, statements: &[&str]) {
        let mut connection = store.reader().acquire().await.expect("a connection to tamper with");
        let (disable, enable): (&[&str], &[&str]) = match self.kind {
            Kind::Sqlite => {
                const DROP: [&str; 7] = [
                    "DROP TRIGGER IF EXISTS events_refuse_update",
                    "DROP TRIGGER IF EXISTS events_refuse_delete",
                    "DROP TRIGGER IF EXISTS events_refuse_out_of_order",
                    "DROP TRIGGER IF EXISTS merkle_nodes_refuse_update",
                    "DROP TRIGGER IF EXISTS merkle_nodes_refuse_delete",
                    "DROP TRIGGER IF EXISTS checkpoints_refuse_update",
                    "DROP TRIGGER IF EXISTS checkpoints_refuse_delete",
                ];
                (&DROP, &[])
            }
            Kind::Postgres => (
                &[
                    "ALTER TABLE events DISABLE TRIGGER USER",
                    "ALTER TABLE merkle_nodes DISABLE TRIGGER USER",
                    "ALTER TABLE checkpoints DISABLE TRIGGER USER",
                ],
                &[
                    "ALTER TABLE events ENABLE TRIGGER USER",
                    "ALTER TABLE merkle_nodes ENABLE TRIGGER USER",
                    "ALTER TABLE checkpoints ENABLE TRIGGER USER",
                ],
            ),
        };
        for sql in disable.iter().chain(statements).chain(enable) {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *connection)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    /// A connected, migrated store on this database.
    pub async fn store(&self) -> EventStore {
        let store = EventStore::connect(ConnectOptions::new(&self.url)).await.expect("connecting to the test database");
        store.migrate().await.expect("migrating the test database");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on itself.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server_url).await.map_err(std::io::Error::other)?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

/// `server_url` with its database name replaced by `name`.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = server_url.split_once('?').map_or((server_url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Runs each listed `async fn(TestDatabase)` as two tests, `sqlite::name` and
/// `postgres::name`, on a fresh database each.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = $crate::testing::TestDatabase::sqlite();
                    super::$name(database).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::testing::TestDatabase::postgres().await {
                        super::$name(database).await;
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
