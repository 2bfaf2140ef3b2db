//! Database access: one connection type over SQLite and PostgreSQL (chosen from the URL),
//! a pool, embedded migrations, and `Db::run` to execute synchronous diesel code on the
//! blocking thread pool.

pub mod models;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// A connection to either backend; query functions take `&mut Conn`.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database connection failed: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database setup failed: {0}")]
    Setup(String),
    #[error("database task was interrupted")]
    Interrupted,
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` and `postgresql://` select PostgreSQL; anything else is a SQLite path.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// SQLite pragmas on every pooled connection: WAL, full fsync on commit, a busy timeout so
/// writers queue instead of failing, and foreign keys.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        if let Conn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The connection pool and its backend.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<Conn>>,
    backend: Backend,
}

impl Db {
    /// Connects, checks the connection and runs pending migrations.
    pub fn connect(url: &str, pool_size: u32) -> Result<Db, DbError> {
        let backend = Backend::of_url(url);
        let conn_url = match backend {
            Backend::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_owned(),
            Backend::Postgres => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            // WAL is a property of the database file: set it once, before the pool opens
            // connections concurrently (switching needs an exclusive lock).
            use diesel::Connection;
            let mut first = diesel::SqliteConnection::establish(&conn_url)
                .map_err(|e| DbError::Setup(format!("cannot open {conn_url}: {e}")))?;
            first.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")?;
        }
        let manager = ConnectionManager::<Conn>::new(conn_url);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(std::time::Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .map_err(|e| DbError::Setup(e.to_string()))?;
        let db = Db { pool, backend };
        db.migrate()?;
        Ok(db)
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let ran = conn
            .run_pending_migrations(self.migrations())
            .map_err(|e| DbError::Setup(e.to_string()))?;
        Ok(ran.len())
    }

    /// Reverts every migration, then applies them all again: proves the down migrations
    /// (used by `tests/operations/migrations.rs` on both backends).
    pub fn redo_all_migrations(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        conn.revert_all_migrations(self.migrations())
            .map_err(|e| DbError::Setup(e.to_string()))?;
        conn.run_pending_migrations(self.migrations())
            .map_err(|e| DbError::Setup(e.to_string()))?;
        Ok(())
    }

    fn migrations(&self) -> EmbeddedMigrations {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection, for synchronous callers (CLI, start-up).
    pub fn get(&self) -> Result<PooledConnection<ConnectionManager<Conn>>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on the blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let waited = std::time::Instant::now();
            let conn = pool.get();
            crate::metrics::METRICS
                .db_pool_wait
                .observe(waited.elapsed().as_secs_f64());
            let mut conn = conn.map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| DbError::Interrupted)?
    }
}

/// Runs `f` inside a write transaction: `BEGIN IMMEDIATE` on SQLite (take the write lock up
/// front so concurrent writers wait on the busy timeout instead of failing on upgrade),
/// `BEGIN` on PostgreSQL. Commits on `Ok`, rolls back on `Err`.
pub fn write_tx<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let begin = match conn {
        Conn::Sqlite(_) => "BEGIN IMMEDIATE",
        Conn::Postgres(_) => "BEGIN",
    };
    conn.batch_execute(begin)?;
    match f(conn) {
        Ok(value) => match conn.batch_execute("COMMIT") {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Serialises writers of the audit chain on PostgreSQL (several nodes may share one database);
/// SQLite's `BEGIN IMMEDIATE` already serialises them.
pub fn lock_audit_chain(conn: &mut Conn) -> diesel::QueryResult<()> {
    if let Conn::Postgres(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7310001)").execute(conn)?;
    }
    Ok(())
}

/// One round trip to the database (readiness checks).
pub fn ping(conn: &mut Conn) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Now, in Unix milliseconds: the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
