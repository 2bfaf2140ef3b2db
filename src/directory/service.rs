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
use sha2::{Digest, Sha256};

use super::badge::{BadgeRules, Candidate};
use super::password;
use super::{Directory, DirectoryError, DirectoryUser};
use crate::audit;
use crate::db::models::directory as cache;
use crate::db::{self, Db, DbError};
use crate::metrics::METRICS;

/// How long a user (or a "no such user") is kept in memory in front of the database cache (at
/// most `cache_ttl`).
const MEMORY_TTL: Duration = Duration::from_secs(60);
/// Most entries kept in memory (users and password checks) before they are dropped.
const MEMORY_MAX: usize = 50_000;
/// Wrong passwords for one login name before Folio stops asking the directory for a while
/// (so a client looping on a bad password cannot lock the account in Active Directory).
const MAX_PASSWORD_FAILURES: u32 = 5;
/// How long those failures are remembered.
const PASSWORD_FAILURE_WINDOW: Duration = Duration::from_secs(300);

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

/// A registered card, as listed.
pub type Registration = cache::RegistrationRow;

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    #[error("this is not a badge number")]
    Invalid,
    #[error("this badge already belongs to someone")]
    Taken,
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
    /// Lower-cased uid → (wrong passwords, since when).
    password_failures: Mutex<HashMap<String, (u32, Instant)>>,
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
                password_failures: Mutex::new(HashMap::new()),
                refreshing: Mutex::new(HashSet::new()),
            }),
        }
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

    /// Resolves a badge read at a reader to its holder, checking the PIN when one is needed.
    pub async fn resolve_badge(
        &self,
        raw: &str,
        pin: Option<&str>,
    ) -> Result<BadgeMatch, BadgeError> {
        let started = Instant::now();
        let result = self.resolve_inner(raw, pin).await;
        let outcome = match &result {
            Ok(m) if m.degraded => "degraded",
            Ok(m) => match m.via {
                Via::Directory => "directory",
                Via::Cache => "cache",
                Via::Registration => "registration",
            },
            Err(BadgeError::Invalid) => "invalid",
            Err(BadgeError::Unknown) => "unknown",
            Err(BadgeError::Ambiguous(_)) => "ambiguous",
            Err(BadgeError::Unavailable(_)) => "unavailable",
            Err(BadgeError::PinRequired | BadgeError::PinNotSet | BadgeError::WrongPin) => "pin",
            Err(BadgeError::Database(_)) => "error",
        };
        METRICS
            .directory_lookups
            .with_label_values(&["badge", outcome])
            .inc();
        METRICS
            .directory_duration
            .with_label_values(&["badge"])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Who holds `raw`, without the PIN check (for `directory lookup` and registration).
    pub async fn badge_holder(&self, raw: &str) -> Result<BadgeMatch, BadgeError> {
        let candidates = self.inner.rules.candidates(raw);
        if candidates.is_empty() {
            return Err(BadgeError::Invalid);
        }
        let values: Vec<String> = candidates.iter().map(|c| c.value.clone()).collect();
        let v = values.clone();
        let (registrations, cached) = self
            .inner
            .db
            .run(move |c| {
                Ok::<_, DbError>((
                    cache::active_for_badges(c, &v)?,
                    cache::cached_by_badges(c, &v)?,
                ))
            })
            .await?;

        // Holders from the directory: the cache when every copy is fresh, else the directory,
        // else (directory down) the cache, degraded.
        let (holders, via, degraded) = if !cached.is_empty()
            && cached.iter().all(|c| self.fresh(c.fetched_at))
        {
            (
                cached.into_iter().map(|c| c.user).collect(),
                Via::Cache,
                false,
            )
        } else {
            let search = self.inner.rules.search_values(&candidates);
            match self
                .call(self.inner.directory.users_by_badge(&search))
                .await
            {
                Ok(users) => {
                    let rules = &self.inner.rules;
                    let users: Vec<DirectoryUser> = users
                        .into_iter()
                        .filter(|u| {
                            u.badges
                                .iter()
                                .any(|b| values.contains(&rules.canonical(b)))
                        })
                        .collect();
                    self.store(users.clone()).await?;
                    (users, Via::Directory, false)
                }
                Err(e) if cached.is_empty() && registrations.is_empty() => {
                    return Err(BadgeError::Unavailable(e.to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "directory down: resolving the badge from the cache (degraded)");
                    (
                        cached.into_iter().map(|c| c.user).collect(),
                        Via::Cache,
                        true,
                    )
                }
            }
        };

        let mut found: Vec<(DirectoryUser, &Candidate, Via)> = Vec::new();
        for user in holders {
            let canon: Vec<String> = user
                .badges
                .iter()
                .map(|b| self.inner.rules.canonical(b))
                .collect();
            if let Some(c) = candidates.iter().find(|c| canon.contains(&c.value)) {
                found.push((user, c, via));
            }
        }
        for reg in registrations {
            if found.iter().any(|(u, _, _)| u.key() == reg.uid_key) {
                continue;
            }
            match self.user(&reg.uid).await {
                Ok(Some(l)) => {
                    let c = candidates
                        .iter()
                        .find(|c| c.value == reg.badge)
                        .unwrap_or(&candidates[0]);
                    found.push((l.user, c, Via::Registration));
                }
                Ok(None) => {
                    tracing::warn!(user = %reg.uid, registration = reg.id, "a registered badge belongs to a user gone from the directory: ignored")
                }
                Err(e) => return Err(BadgeError::Unavailable(e.to_string())),
            }
        }
        match found.len() {
            0 => Err(BadgeError::Unknown),
            1 => {
                let (user, c, via) = found.remove(0);
                if degraded {
                    self.audit(
                        &user.uid,
                        "badge.resolved_degraded",
                        &format!("user:{}", user.uid),
                        serde_json::json!({ "badge": c.value }),
                    )
                    .await;
                }
                Ok(BadgeMatch {
                    user,
                    badge: c.value.clone(),
                    rules: c.rules.clone(),
                    via,
                    degraded,
                })
            }
            _ => {
                let mut uids: Vec<String> = found.iter().map(|(u, _, _)| u.uid.clone()).collect();
                uids.sort();
                uids.dedup();
                METRICS.badge_conflicts.inc();
                tracing::warn!(users = ?uids, "a badge number is held by several people: refused");
                self.audit(
                    "system",
                    "badge.conflict",
                    "badge",
                    serde_json::json!({ "badge": candidates[0].value, "users": uids }),
                )
                .await;
                Err(BadgeError::Ambiguous(uids))
            }
        }
    }

    async fn resolve_inner(&self, raw: &str, pin: Option<&str>) -> Result<BadgeMatch, BadgeError> {
        let found = self.badge_holder(raw).await?;
        let key = found.user.key();
        let stored = self
            .inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::pin_hash(c, &key)?))
            .await?;
        if !self.inner.requires_pin && stored.is_none() {
            return Ok(found);
        }
        let Some(pin) = pin.filter(|p| !p.is_empty()) else {
            return Err(BadgeError::PinRequired);
        };
        let Some(hash) = stored else {
            return Err(BadgeError::PinNotSet);
        };
        let pin = pin.to_owned();
        let ok = tokio::task::spawn_blocking(move || password::verify_phc(&hash, &pin))
            .await
            .unwrap_or(false);
        if ok {
            Ok(found)
        } else {
            Err(BadgeError::WrongPin)
        }
    }

    /// Checks a login name and password against the directory. `Ok(None)`: refused.
    pub async fn authenticate(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, LookupError> {
        let started = Instant::now();
        let result = self.authenticate_inner(uid, password).await;
        let outcome = match &result {
            Ok(Some(_)) => "accepted",
            Ok(None) => "refused",
            Err(LookupError::Unavailable(_)) => "unavailable",
            Err(LookupError::Database(_)) => "error",
        };
        METRICS
            .directory_lookups
            .with_label_values(&["password", outcome])
            .inc();
        METRICS
            .directory_duration
            .with_label_values(&["password"])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn authenticate_inner(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, LookupError> {
        let key = DirectoryUser::key_of(uid);
        if key.is_empty() || password.is_empty() {
            return Ok(None);
        }
        let mut h = Sha256::new();
        h.update(self.inner.password_key);
        h.update(key.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let fingerprint: [u8; 32] = h.finalize().into();
        let remembered = {
            let p = self
                .inner
                .passwords
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            p.get(&fingerprint)
                .is_some_and(|(_, at)| at.elapsed() < self.inner.auth_ttl)
        };
        if remembered {
            if let Some(l) = self.user(uid).await? {
                return Ok(Some(l.user));
            }
        }
        let throttled = {
            let f = self
                .inner
                .password_failures
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            f.get(&key).is_some_and(|(n, since)| {
                *n >= MAX_PASSWORD_FAILURES && since.elapsed() < PASSWORD_FAILURE_WINDOW
            })
        };
        if throttled {
            tracing::warn!(user = ?key, "too many wrong passwords: refused without asking the directory");
            return Ok(None);
        }
        match self
            .call(self.inner.directory.authenticate(uid, password))
            .await
        {
            Ok(Some(user)) => {
                self.store(vec![user.clone()]).await?;
                let mut p = self
                    .inner
                    .passwords
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if p.len() >= MEMORY_MAX {
                    p.clear();
                }
                p.insert(fingerprint, (key.clone(), Instant::now()));
                drop(p);
                self.inner
                    .password_failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                Ok(Some(user))
            }
            Ok(None) => {
                let mut f = self
                    .inner
                    .password_failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if f.len() >= MEMORY_MAX {
                    f.clear();
                }
                let entry = f.entry(key).or_insert((0, Instant::now()));
                if entry.1.elapsed() >= PASSWORD_FAILURE_WINDOW {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
                Ok(None)
            }
            Err(e) => Err(LookupError::Unavailable(e.to_string())),
        }
    }

    /// Links a card to `user` (who proved who they are). The card must not resolve to anyone.
    pub async fn register_badge(
        &self,
        user: &DirectoryUser,
        raw: &str,
        actor: &str,
    ) -> Result<Registration, RegisterError> {
        let candidates = self.inner.rules.candidates(raw);
        let Some(first) = candidates.first() else {
            return Err(RegisterError::Invalid);
        };
        match self.badge_holder(raw).await {
            Ok(m) if m.user.key() == user.key() => return Err(RegisterError::AlreadyYours),
            Ok(_) | Err(BadgeError::Ambiguous(_)) => return Err(RegisterError::Taken),
            Err(BadgeError::Unknown) => {}
            Err(BadgeError::Invalid) => return Err(RegisterError::Invalid),
            Err(BadgeError::Database(e)) => return Err(RegisterError::Database(e)),
            Err(_) => return Err(RegisterError::Unavailable),
        }
        let (badge, uid, actor) = (first.value.clone(), user.uid.clone(), actor.to_owned());
        let result = self
            .inner
            .db
            .run(move |conn| {
                let now = db::now_ms();
                let id = db::write_tx(conn, |conn| {
                    let id = cache::register(conn, &badge, &uid, &actor, now)?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "badge.registered",
                            object: &format!("user:{uid}"),
                            detail: serde_json::json!({ "registration": id, "badge": badge })
                                .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(id)
                });
                match id {
                    Ok(id) => Ok(cache::registration(conn, id).map_err(DbError::from)?),
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => Ok(None),
                    Err(e) => Err(DbError::from(e)),
                }
            })
            .await
            .map_err(|e| RegisterError::Database(e.to_string()))?;
        result.ok_or(RegisterError::Taken)
    }

    /// Registrations, of one user (by login name) or all.
    pub async fn registrations(
        &self,
        uid: Option<&str>,
        include_revoked: bool,
    ) -> Result<Vec<Registration>, DbError> {
        let key = uid.map(DirectoryUser::key_of);
        self.inner
            .db
            .run(move |c| {
                Ok::<_, DbError>(cache::list_registrations(
                    c,
                    key.as_deref(),
                    include_revoked,
                )?)
            })
            .await
    }

    /// Revokes registration `id`. With `owner`, only that user's registration. Returns false
    /// when there was no such active registration.
    pub async fn revoke_registration(
        &self,
        id: i64,
        owner: Option<&str>,
        actor: &str,
    ) -> Result<bool, DbError> {
        let owner = owner.map(DirectoryUser::key_of);
        let actor = actor.to_owned();
        self.inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let Some(reg) = cache::registration(conn, id)? else {
                        return Ok(false);
                    };
                    if owner.as_ref().is_some_and(|o| *o != reg.uid_key) {
                        return Ok(false);
                    }
                    if !cache::revoke(conn, id, &actor, db::now_ms())? {
                        return Ok(false);
                    }
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: "badge.revoked",
                            object: &format!("user:{}", reg.uid),
                            detail: serde_json::json!({ "registration": id, "badge": reg.badge })
                                .to_string(),
                            ..Default::default()
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await
    }

    /// Sets (`Some`) or removes (`None`) the release PIN of `uid`: 4 to 8 digits.
    pub async fn set_pin(&self, uid: &str, pin: Option<&str>, actor: &str) -> Result<(), PinError> {
        if let Some(p) = pin {
            if !(4..=8).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(PinError::Invalid);
            }
        }
        let hash = match pin {
            Some(p) => {
                let p = p.to_owned();
                Some(
                    tokio::task::spawn_blocking(move || password::hash_phc(&p))
                        .await
                        .map_err(|_| PinError::Database("interrupted".into()))?,
                )
            }
            None => None,
        };
        let (key, uid, actor) = (DirectoryUser::key_of(uid), uid.to_owned(), actor.to_owned());
        self.inner
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    cache::set_pin(conn, &key, hash.as_deref(), db::now_ms())?;
                    audit::append(
                        conn,
                        audit::Event {
                            actor: &actor,
                            action: if hash.is_some() {
                                "pin.set"
                            } else {
                                "pin.removed"
                            },
                            object: &format!("user:{uid}"),
                            detail: "{}".into(),
                            ..Default::default()
                        },
                    )
                })
                .map_err(DbError::from)
            })
            .await
            .map_err(|e| PinError::Database(e.to_string()))
    }

    /// True when `uid` has set a release PIN.
    pub async fn has_pin(&self, uid: &str) -> Result<bool, DbError> {
        let key = DirectoryUser::key_of(uid);
        self.inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::pin_hash(c, &key)?.is_some()))
            .await
    }

    /// Users in Folio's cache, for `folio directory list` with an LDAP directory.
    pub async fn cached_users(&self, limit: i64) -> Result<Vec<cache::CachedUser>, DbError> {
        self.inner
            .db
            .run(move |c| Ok::<_, DbError>(cache::list_cached(c, limit)?))
            .await
    }
}
