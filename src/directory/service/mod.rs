//! [`DirectoryService`]: the directory as the rest of Folio uses it.
//!
//! - **Cache**: users seen are stored in the database with their time of fetch. A fresh copy
//!   (younger than `cache_ttl`) answers at once; a stale one answers at once too while a
//!   background refresh asks the directory (so a slow directory never holds print intake).
//! - **Degraded mode**: when the directory fails, it is left alone for `retry_after`; known
//!   users and badges resolve from the cache, marked degraded (log, metric, audit); unknown
//!   ones get "directory unavailable".
//! - **Badges**: normalised candidates ([`BadgeRules`]); a card held by two people is refused
//!   and reported, never resolved to either. Cards can also be registered in Folio.
//! - **PINs** (argon2id) and a short in-memory memory of successful password checks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::Serialize;

use super::badge::BadgeRules;
use super::{Directory, DirectoryError, DirectoryUser};
use crate::audit;
use crate::db::models::directory as cache;
use crate::db::{self, Db, DbError};
use crate::metrics::METRICS;

mod badges;
mod passwords;

pub use passwords::Login;

/// How long a user (or a "no such user") is kept in memory in front of the database cache (at
/// most `cache_ttl`).
const MEMORY_TTL: Duration = Duration::from_secs(60);
/// Most entries kept in memory (users and password checks) before they are dropped.
const MEMORY_MAX: usize = 50_000;

/// A user lookup that could not be answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
}

impl From<DbError> for LookupError {
    fn from(e: DbError) -> Self {
        LookupError::Database(e.to_string())
    }
}

/// Why a badge did not resolve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadgeError {
    #[error("this is not a badge number")]
    Invalid,
    #[error("unknown badge")]
    Unknown,
    #[error("this badge is held by several people ({}); it is refused until IT fixes the directory", .0.join(", "))]
    Ambiguous(Vec<String>),
    #[error("directory unavailable: this badge is not known yet, try again later")]
    Unavailable(String),
    #[error("PIN required")]
    PinRequired,
    #[error("no PIN set: set one on the self-service page first")]
    PinNotSet,
    #[error("wrong PIN")]
    WrongPin,
    #[error("database error: {0}")]
    Database(String),
}

impl From<DbError> for BadgeError {
    fn from(e: DbError) -> Self {
        BadgeError::Database(e.to_string())
    }
}

/// Where a badge's owner was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Asked the directory now.
    Directory,
    /// Folio's copy of the directory (fresh, or the directory is down).
    Cache,
    /// A card registered in Folio.
    Registration,
}

/// A resolved badge.
#[derive(Debug, Clone, Serialize)]
pub struct BadgeMatch {
    pub user: DirectoryUser,
    /// The normalised number that matched.
    pub badge: String,
    /// The normalisation rules that produced it.
    pub rules: Vec<&'static str>,
    pub via: Via,
    /// True when the directory was down and the answer came from the cache.
    pub degraded: bool,
}

/// Card registrations one person (or one address) may attempt in an hour on their own.
const SELF_REGISTRATIONS: u32 = 5;

/// A registered card, as listed.
pub type Registration = cache::RegistrationRow;

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    #[error("this is not a badge number")]
    Invalid,
    /// Someone else's card, or one two people hold. Said the same way in every case (and
    /// only to people who proved who they are, a few times an hour): the answer must not be a
    /// way to find out which numbers are in use.
    #[error("this card cannot be linked to you here: if it is yours, tap it at a copier and sign in there, or ask IT")]
    Taken,
    #[error("too many card registrations: try again in {0} minutes")]
    TooMany(u64),
    #[error("this badge is already yours")]
    AlreadyYours,
    #[error("directory unavailable: cannot check that the badge is free; try again later")]
    Unavailable,
    #[error("database error: {0}")]
    Database(String),
}

/// Why a PIN could not be set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits")]
    Invalid,
    #[error("database error: {0}")]
    Database(String),
}

/// A user found, and whether the answer is degraded (directory down, cached copy).
#[derive(Debug, Clone)]
pub struct UserLookup {
    pub user: DirectoryUser,
    pub degraded: bool,
}

#[derive(Default)]
struct Breaker {
    down_until: Option<Instant>,
    degraded: bool,
}

struct Inner {
    directory: Arc<dyn Directory>,
    db: Db,
    rules: BadgeRules,
    cache_ttl_ms: i64,
    /// How long the memory in front of the database cache is believed.
    memory_ttl: Duration,
    /// False for the file directory: it is in memory and never down, so Folio's caches would
    /// only add writes and memory.
    cache_in_db: bool,
    requires_pin: bool,
    auth_ttl: Duration,
    /// How long a failing directory is left alone before it is asked again.
    retry_after: Duration,
    breaker: Mutex<Breaker>,
    /// Lower-cased uid → (user or "no such user", when stored).
    memory: Mutex<HashMap<String, (Option<DirectoryUser>, Instant)>>,
    /// Keyed hash of (uid, password) → (uid key, when checked).
    passwords: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    password_key: [u8; 32],
    /// Wrong passwords, per login and per address, on every channel.
    throttle: crate::directory::throttle::Throttle,
    /// Keys the card references written to the audit trail (see [`DirectoryService::card_ref`]).
    card_key: [u8; 32],
    /// Self-service card registrations, per user and per address.
    registrations: crate::directory::throttle::Attempts,
    refreshing: Mutex<HashSet<String>>,
}

/// The directory as Folio uses it (cheap to clone).
#[derive(Clone)]
pub struct DirectoryService {
    inner: Arc<Inner>,
}

impl DirectoryService {
    pub fn new(
        directory: Arc<dyn Directory>,
        db: Db,
        settings: &super::settings::DirectorySettings,
        auth_cache_secs: u64,
    ) -> DirectoryService {
        let mut password_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut password_key);
        let cache_in_db = directory.kind() != "file";
        DirectoryService {
            inner: Arc::new(Inner {
                cache_in_db,
                directory,
                db,
                rules: BadgeRules::new(settings.badge.clone()),
                cache_ttl_ms: (settings.cache_ttl as i64).saturating_mul(1000),
                memory_ttl: MEMORY_TTL.min(Duration::from_secs(settings.cache_ttl)),
                requires_pin: settings.badge_requires_pin,
                retry_after: Duration::from_secs(settings.retry_after),
                auth_ttl: Duration::from_secs(auth_cache_secs),
                breaker: Mutex::new(Breaker::default()),
                memory: Mutex::new(HashMap::new()),
                passwords: Mutex::new(HashMap::new()),
                password_key,
                throttle: Default::default(),
                registrations: crate::directory::throttle::Attempts::new(
                    SELF_REGISTRATIONS,
                    Duration::from_secs(3600),
                ),
                card_key: {
                    let mut k = [0u8; 32];
                    rand::rngs::OsRng.fill_bytes(&mut k);
                    k
                },
                refreshing: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Keys card references with `key` (derived from the site's master key, so that every
    /// node and the command line write the same reference for one card). Call right after
    /// [`DirectoryService::new`].
    pub fn with_card_key(mut self, key: &[u8; 32]) -> DirectoryService {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.card_key = *key;
        }
        self
    }

    /// What the audit trail records of a card: a keyed hash of its canonical number, which
    /// tells events about one card apart from another without keeping a number someone could
    /// type at a terminal.
    pub fn card_ref(&self, canonical: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.inner.card_key)
            .expect("HMAC takes keys of any length");
        mac.update(canonical.as_bytes());
        format!("card:{}", hex::encode(&mac.finalize().into_bytes()[..8]))
    }

    /// The directory behind the service.
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.inner.directory
    }

    /// The badge normalisation rules.
    pub fn rules(&self) -> &BadgeRules {
        &self.inner.rules
    }

    /// True while the directory is considered down.
    pub fn is_degraded(&self) -> bool {
        self.lock_breaker().degraded
    }

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.inner.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a directory call unless the breaker is open; records failures and recoveries.
    async fn call<T, F>(&self, f: F) -> Result<T, DirectoryError>
    where
        F: std::future::Future<Output = Result<T, DirectoryError>>,
    {
        {
            // Open: answer from the cache. Expired: this caller probes the directory, and the
            // others keep answering from the cache until the probe succeeds.
            let mut b = self.lock_breaker();
            if let Some(until) = b.down_until {
                if Instant::now() < until {
                    return Err(DirectoryError::Unavailable(
                        "the directory failed recently; answering from the cache".into(),
                    ));
                }
                b.down_until = Some(Instant::now() + self.inner.retry_after);
            }
        }
        let result = f.await;
        let transition = {
            let mut b = self.lock_breaker();
            match &result {
                Err(DirectoryError::Unavailable(_)) => {
                    b.down_until = Some(Instant::now() + self.inner.retry_after);
                    (!b.degraded).then(|| {
                        b.degraded = true;
                        true
                    })
                }
                _ => {
                    b.down_until = None;
                    b.degraded.then(|| {
                        b.degraded = false;
                        false
                    })
                }
            }
        };
        if let Some(down) = transition {
            METRICS.directory_degraded.set(down as i64);
            let reason = match &result {
                Err(e) => e.to_string(),
                Ok(_) => String::new(),
            };
            if down {
                tracing::warn!(error = %reason, "directory unreachable: degraded mode, answering from the cache");
            } else {
                tracing::info!("directory reachable again: degraded mode over");
            }
            let action = if down {
                "directory.degraded"
            } else {
                "directory.recovered"
            };
            self.audit(
                "system",
                action,
                "directory",
                serde_json::json!({ "error": reason }),
            )
            .await;
        }
        result
    }

    /// Appends an audit event in its own transaction (logged when that fails).
    async fn audit(&self, actor: &str, action: &str, object: &str, detail: serde_json::Value) {
        let (actor, action, object) = (actor.to_owned(), action.to_owned(), object.to_owned());
        let result = self
            .inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: &action,
                            object: &object,
                            detail: detail.to_string(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record an audit event");
        }
    }

    fn remember(&self, key: &str, user: Option<DirectoryUser>) {
        if !self.inner.cache_in_db {
            // The file directory is already in memory.
            return;
        }
        let mut memory = self.inner.memory.lock().unwrap_or_else(|e| e.into_inner());
        if memory.len() >= MEMORY_MAX {
            memory.clear();
        }
        memory.insert(key.to_owned(), (user, Instant::now()));
    }

    fn remembered(&self, key: &str) -> Option<Option<DirectoryUser>> {
        let memory = self.inner.memory.lock().unwrap_or_else(|e| e.into_inner());
        memory
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.inner.memory_ttl)
            .map(|(u, _)| u.clone())
    }

    /// Stores users just read from the directory in the cache.
    async fn store(&self, users: Vec<DirectoryUser>) -> Result<(), DbError> {
        for u in &users {
            self.remember(&u.key(), Some(u.clone()));
        }
        if !self.inner.cache_in_db {
            return Ok(());
        }
        let rules = self.inner.rules.clone();
        self.inner
            .db
            .run(move |conn| {
                let now = db::now_ms();
                db::write_tx(conn, |conn| {
                    for u in &users {
                        let canonical: Vec<String> =
                            u.badges.iter().map(|b| rules.canonical(b)).collect();
                        cache::store_user(conn, u, &canonical, now)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(DbError::from)
            })
            .await
    }

    fn fresh(&self, fetched_at: i64) -> bool {
        db::now_ms() - fetched_at < self.inner.cache_ttl_ms
    }

    /// The user whose login name is `uid`: `Ok(None)` when the directory does not know them.
    pub async fn user(&self, uid: &str) -> Result<Option<UserLookup>, LookupError> {
        let started = Instant::now();
        let result = self.user_inner(uid).await;
        let outcome = match &result {
            Ok(Some(l)) if l.degraded => "degraded",
            Ok(Some(_)) => "found",
            Ok(None) => "unknown",
            Err(LookupError::Unavailable(_)) => "unavailable",
            Err(LookupError::Database(_)) => "error",
        };
        METRICS
            .directory_lookups
            .with_label_values(&["uid", outcome])
            .inc();
        METRICS
            .directory_duration
            .with_label_values(&["uid"])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn user_inner(&self, uid: &str) -> Result<Option<UserLookup>, LookupError> {
        let key = DirectoryUser::key_of(uid);
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(found) = self.remembered(&key) {
            return Ok(found.map(|user| UserLookup {
                user,
                degraded: false,
            }));
        }
        let k = key.clone();
        let cached = self
            .inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::cached_user(c, &k)?))
            .await?;
        if let Some(c) = &cached {
            if self.fresh(c.fetched_at) {
                self.remember(&key, Some(c.user.clone()));
                return Ok(Some(UserLookup {
                    user: c.user.clone(),
                    degraded: false,
                }));
            }
            if !self.is_degraded() {
                // Stale: answer now, refresh behind (never make a print wait on the directory).
                self.refresh_behind(uid);
                return Ok(Some(UserLookup {
                    user: c.user.clone(),
                    degraded: false,
                }));
            }
        }
        match self.call(self.inner.directory.user_by_uid(uid)).await {
            Ok(Some(user)) => {
                self.store(vec![user.clone()]).await?;
                Ok(Some(UserLookup {
                    user,
                    degraded: false,
                }))
            }
            Ok(None) => {
                self.remember(&key, None);
                Ok(None)
            }
            Err(e) => match cached {
                Some(c) => {
                    tracing::warn!(user = %c.user.uid, error = %e, "directory down: using the cached user (degraded)");
                    Ok(Some(UserLookup {
                        user: c.user,
                        degraded: true,
                    }))
                }
                None => Err(LookupError::Unavailable(e.to_string())),
            },
        }
    }

    /// Refreshes one cached user in the background, once at a time per user.
    fn refresh_behind(&self, uid: &str) {
        let key = DirectoryUser::key_of(uid);
        {
            let mut r = self
                .inner
                .refreshing
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !r.insert(key.clone()) {
                return;
            }
        }
        let svc = self.clone();
        let uid = uid.to_owned();
        tokio::spawn(async move {
            match svc.call(svc.inner.directory.user_by_uid(&uid)).await {
                Ok(Some(user)) => {
                    if let Err(e) = svc.store(vec![user]).await {
                        tracing::error!(error = %e, "cannot refresh the directory cache");
                    }
                }
                Ok(None) => {
                    tracing::info!(user = %uid, "user gone from the directory: removed from the cache");
                    svc.remember(&key, None);
                    let k = key.clone();
                    let _ = svc
                        .inner
                        .db
                        .run(move |c| {
                            db::write_tx(c, |c| cache::forget_user(c, &k)).map_err(DbError::from)
                        })
                        .await;
                }
                Err(e) => tracing::debug!(error = %e, "background directory refresh failed"),
            }
            svc.inner
                .refreshing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        });
    }

    /// Users in Folio's cache, for `folio directory list` with an LDAP directory.
    pub async fn cached_users(&self, limit: i64) -> Result<Vec<cache::CachedUser>, DbError> {
        self.inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::list_cached(c, limit)?))
            .await
    }
}
