//! Password logins against the directory, with a short memory of successful checks (so a
//! session does not ask LDAP at every request) and a throttle on repeated wrong passwords.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{DirectoryService, LookupError, MEMORY_MAX};
use crate::directory::DirectoryUser;
use crate::metrics::METRICS;

/// Wrong passwords for one login name before Folio stops asking the directory for a while
/// (so a client looping on a bad password cannot lock the account in Active Directory).
const MAX_PASSWORD_FAILURES: u32 = 5;
/// How long those failures are remembered.
const PASSWORD_FAILURE_WINDOW: Duration = Duration::from_secs(300);

impl DirectoryService {
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
}
