//! LDAP directory (OpenLDAP, Active Directory) with ldap3: one multiplexed service connection
//! for searches (re-opened when the server went away), a separate short-lived connection for
//! each password bind, paged searches, TLS (LDAPS or StartTLS, never a plaintext fallback)
//! with a configurable CA, and a time limit on everything. Every value that comes from a user
//! is escaped before it enters a filter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use tokio::sync::{Mutex, Semaphore};
use zeroize::Zeroizing;

use super::file::mapping_steps;
use super::settings::DirectorySettings;
use super::{group_name_of, CheckReport, CheckStep, Directory, DirectoryError, DirectoryUser};

/// Password binds at once (each on its own connection).
const MAX_CONCURRENT_BINDS: usize = 16;

/// The LDAP directory.
pub struct LdapDirectory {
    settings: DirectorySettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    bind_password: Zeroizing<String>,
    /// The service connection and its generation (so a late failure report cannot close a
    /// newer connection).
    service: Mutex<Option<(u64, Ldap)>>,
    generation: std::sync::atomic::AtomicU64,
    binds: Semaphore,
}

impl LdapDirectory {
    /// Reads the CA and the service password; connects lazily.
    pub fn new(mut settings: DirectorySettings) -> anyhow::Result<LdapDirectory> {
        // ldap3 reads the scheme case-insensitively; so must the TLS decisions below.
        let url = settings.url.trim().to_owned();
        let Some((scheme, rest)) = url.split_once("://") else {
            anyhow::bail!("directory.url `{url}` is not an ldap:// or ldaps:// URL");
        };
        let scheme = scheme.to_ascii_lowercase();
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if !matches!(scheme.as_str(), "ldap" | "ldaps") || host.is_empty() || host.starts_with(':')
        {
            anyhow::bail!("directory.url `{url}` is not an ldap://HOST or ldaps://HOST URL");
        }
        settings.url = format!("{scheme}://{rest}");
        let tls = if settings.ca_file.as_os_str().is_empty() {
            None
        } else {
            Some(Arc::new(tls_config(&settings.ca_file)?))
        };
        let bind_password = if settings.bind_password_file.as_os_str().is_empty() {
            Zeroizing::new(String::new())
        } else {
            let text = std::fs::read_to_string(&settings.bind_password_file).map_err(|e| {
                anyhow::anyhow!(
                    "directory.bind_password_file {}: {e}",
                    settings.bind_password_file.display()
                )
            })?;
            Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
        };
        if !settings.bind_dn.is_empty() && bind_password.is_empty() {
            anyhow::bail!("directory.bind_dn is set but directory.bind_password_file is empty");
        }
        if settings.url.starts_with("ldap://") && !settings.starttls {
            tracing::warn!(
                url = %settings.url,
                "the directory connection is not encrypted (use ldaps:// or starttls = true): \
                 passwords checked by LDAP bind cross the network in clear"
            );
        }
        Ok(LdapDirectory {
            settings,
            tls,
            bind_password,
            service: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            binds: Semaphore::new(MAX_CONCURRENT_BINDS),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout.max(1))
    }

    fn conn_settings(&self) -> LdapConnSettings {
        let mut s = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(self.settings.connect_timeout.max(1)))
            .set_starttls(self.settings.starttls && self.settings.url.starts_with("ldap://"));
        if let Some(tls) = &self.tls {
            s = s.set_config(tls.clone());
        }
        s
    }

    /// Opens a connection (TLS as configured), driven on its own task.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let open = LdapConnAsync::with_settings(self.conn_settings(), &self.settings.url);
        let limit = Duration::from_secs(self.settings.connect_timeout.max(1)) + self.timeout();
        let (conn, ldap) = match tokio::time::timeout(limit, open).await {
            Err(_) => return Err(DirectoryError::Unavailable("connection timed out".into())),
            Ok(Err(e)) => return Err(classify(e)),
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(ldap)
    }

    /// The shared service connection, opened and bound on first use or after a failure, with
    /// its generation. Waiting for another caller's connection attempt counts against the
    /// operation timeout.
    async fn handle(&self) -> Result<(u64, Ldap), DirectoryError> {
        match tokio::time::timeout(self.timeout(), self.service.lock()).await {
            Err(_) => Err(DirectoryError::Unavailable(
                "waiting for the directory connection timed out".into(),
            )),
            Ok(mut guard) => {
                if let Some((generation, ldap)) = guard.as_mut() {
                    if !ldap.is_closed() {
                        return Ok((*generation, ldap.clone()));
                    }
                }
                let ldap = self.open_service().await?;
                let generation = self
                    .generation
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                *guard = Some((generation, ldap.clone()));
                Ok((generation, ldap))
            }
        }
    }

    /// Connects and binds as the service account.
    async fn open_service(&self) -> Result<Ldap, DirectoryError> {
        let mut ldap = self.connect().await?;
        if !self.settings.bind_dn.is_empty() {
            let bind = ldap
                .with_timeout(self.timeout())
                .simple_bind(&self.settings.bind_dn, &self.bind_password);
            match tokio::time::timeout(self.timeout(), bind).await {
                Err(_) => return Err(DirectoryError::Unavailable("service bind timed out".into())),
                Ok(Err(e)) => return Err(classify(e)),
                Ok(Ok(r)) if r.rc != 0 => {
                    return Err(DirectoryError::Config(format!(
                        "the service account {} was refused (code {}: {})",
                        self.settings.bind_dn, r.rc, r.text
                    )))
                }
                Ok(Ok(_)) => {}
            }
        }
        Ok(ldap)
    }

    /// Forgets the service connection of `generation` after a failure so the next call
    /// reconnects (a newer connection is left alone).
    async fn reset(&self, generation: u64) {
        let mut guard = self.service.lock().await;
        if guard.as_ref().is_some_and(|(g, _)| *g == generation) {
            if let Some((_, mut ldap)) = guard.take() {
                drop(guard);
                let _ = tokio::time::timeout(Duration::from_millis(200), ldap.unbind()).await;
            }
        }
    }

    /// A paged subtree search on the service connection, bounded by the operation timeout.
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        self.search_limited(base, scope, filter, attrs, None).await
    }

    /// [`LdapDirectory::search`] returning at most `limit` entries (the server stops there).
    async fn search_limited(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        limit: Option<usize>,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let (generation, mut ldap) = self.handle().await?;
        let page_size = self.settings.page_size.clamp(1, i32::MAX as u32) as i32;
        if let Some(limit) = limit {
            ldap.with_search_options(
                ldap3::SearchOptions::new().sizelimit(limit.min(i32::MAX as usize) as i32),
            );
        }
        let run = async {
            let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(page_size)),
            ];
            let mut stream = ldap
                .streaming_search_with(adapters, base, scope, filter, attrs)
                .await?;
            let mut out = Vec::new();
            while let Some(entry) = stream.next().await? {
                out.push(SearchEntry::construct(entry));
            }
            let result = stream.finish().await;
            // sizeLimitExceeded is the expected end of a limited search.
            if !(limit.is_some() && result.rc == 4) {
                result.success()?;
            }
            Ok::<_, LdapError>(out)
        };
        let result = match tokio::time::timeout(self.timeout(), run).await {
            Err(_) => Err(DirectoryError::Unavailable(format!(
                "no answer within {} s",
                self.timeout().as_secs()
            ))),
            Ok(Err(LdapError::LdapResult { result })) if result.rc == 32 => Err(
                DirectoryError::Config(format!("base DN {base} does not exist")),
            ),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(entries)) => Ok(entries),
        };
        if let Err(DirectoryError::Unavailable(_)) = &result {
            self.reset(generation).await;
        }
        result
    }

    fn user_attrs(&self) -> Vec<String> {
        let s = &self.settings;
        let mut attrs = vec![
            s.uid_attribute.clone(),
            s.display_name_attribute.clone(),
            s.mail_attribute.clone(),
            s.department_attribute.clone(),
            s.cost_centre_attribute.clone(),
        ];
        attrs.extend(s.badge_attributes.iter().cloned());
        if !s.group_attribute.is_empty() {
            attrs.push(s.group_attribute.clone());
        }
        attrs.retain(|a| !a.is_empty());
        attrs
    }

    fn user_filter_with(&self, condition: &str) -> String {
        format!("(&{}{condition})", self.settings.user_filter)
    }

    /// Maps an entry to a user, fetching its groups (ranged `memberOf` or a group search).
    async fn user_of(&self, entry: &SearchEntry) -> Result<Option<DirectoryUser>, DirectoryError> {
        let s = &self.settings;
        let Some(uid) = first(entry, &s.uid_attribute) else {
            tracing::warn!(dn = %entry.dn, attribute = %s.uid_attribute, "directory entry without a login name: ignored");
            return Ok(None);
        };
        let groups = if s.group_attribute.is_empty() {
            self.groups_of(&entry.dn).await?
        } else {
            let dns = self.ranged_values(entry, &s.group_attribute).await?;
            let mut names: Vec<String> = dns.iter().map(|d| group_name_of(d)).collect();
            names.sort();
            names.dedup();
            names
        };
        let text = |a: &str| first(entry, a).unwrap_or_default();
        Ok(Some(DirectoryUser {
            uid,
            dn: entry.dn.clone(),
            display_name: text(&s.display_name_attribute),
            mail: text(&s.mail_attribute),
            department: text(&s.department_attribute),
            cost_centre: text(&s.cost_centre_attribute),
            groups,
            badges: s
                .badge_attributes
                .iter()
                .flat_map(|a| values(entry, a))
                .collect(),
        }))
    }

    /// Every value of `attr`, following Active Directory's ranged retrieval
    /// (`memberOf;range=0-1499`) when the server splits a large attribute.
    async fn ranged_values(
        &self,
        entry: &SearchEntry,
        attr: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        let mut out = values(entry, attr);
        let mut next = next_range(&entry.attrs, attr);
        while let Some(start) = next {
            let wanted = format!("{attr};range={start}-*");
            let page = self
                .search(&entry.dn, Scope::Base, "(objectClass=*)", vec![wanted])
                .await?;
            let Some(page) = page.first() else { break };
            let before = out.len();
            for (name, vals) in &page.attrs {
                if base_name(name).eq_ignore_ascii_case(attr) {
                    out.extend(vals.iter().cloned());
                }
            }
            next = next_range(&page.attrs, attr).filter(|_| out.len() > before);
        }
        Ok(out)
    }
}

/// The start of the next range when `attrs` holds a partial `attr;range=A-B` (B not `*`).
fn next_range(attrs: &HashMap<String, Vec<String>>, attr: &str) -> Option<u64> {
    attrs.keys().find_map(|name| {
        let (base, options) = name.split_once(';')?;
        if !base.eq_ignore_ascii_case(attr) {
            return None;
        }
        let range = options.split(';').find_map(|o| {
            o.to_ascii_lowercase()
                .strip_prefix("range=")
                .map(str::to_owned)
        })?;
        let (_, end) = range.split_once('-')?;
        end.parse::<u64>().ok().map(|e| e + 1)
    })
}

fn base_name(name: &str) -> &str {
    name.split(';').next().unwrap_or(name)
}

fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(name, _)| base_name(name).eq_ignore_ascii_case(attr))
        .flat_map(|(_, v)| v.iter().cloned())
        .collect()
}

fn first(entry: &SearchEntry, attr: &str) -> Option<String> {
    values(entry, attr).into_iter().next()
}

/// Network, TLS and server-busy failures are "unavailable"; other result codes are problems
/// of configuration or access.
fn classify(e: LdapError) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } => match result.rc {
            // timeLimitExceeded, busy, unavailable, unwillingToPerform, other
            3 | 51 | 52 | 53 | 80 => {
                DirectoryError::Unavailable(format!("code {}: {}", result.rc, result.text))
            }
            rc => DirectoryError::Config(format!("code {rc}: {}", result.text)),
        },
        LdapError::FilterParsing => DirectoryError::Config("invalid search filter".into()),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            DirectoryError::Config(format!("directory.url: {e}"))
        }
        other => DirectoryError::Unavailable(other.to_string()),
    }
}

/// A TLS client configuration trusting only the CA certificates in `path` (PEM).
fn tls_config(path: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("directory.ca_file {}: {e}", path.display()))?
    {
        let cert =
            cert.map_err(|e| anyhow::anyhow!("directory.ca_file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("directory.ca_file {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        anyhow::bail!("directory.ca_file {} holds no certificate", path.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[async_trait]
impl Directory for LdapDirectory {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    async fn user_by_uid(&self, uid: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let filter = self.user_filter_with(&format!(
            "({}={})",
            self.settings.uid_attribute,
            ldap_escape(uid.trim())
        ));
        let entries = self
            .search(
                &self.settings.base_dn,
                Scope::Subtree,
                &filter,
                self.user_attrs(),
            )
            .await?;
        match entries.as_slice() {
            [] => Ok(None),
            [entry] => self.user_of(entry).await,
            many => Err(DirectoryError::Config(format!(
                "{} entries have the login name {uid}",
                many.len()
            ))),
        }
    }

    async fn users_by_badge(
        &self,
        values: &[String],
    ) -> Result<Vec<DirectoryUser>, DirectoryError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let mut any = String::from("(|");
        for attr in &self.settings.badge_attributes {
            for v in values {
                any.push_str(&format!("({attr}={})", ldap_escape(v.as_str())));
            }
        }
        any.push(')');
        let entries = self
            .search(
                &self.settings.base_dn,
                Scope::Subtree,
                &self.user_filter_with(&any),
                self.user_attrs(),
            )
            .await?;
        let mut out = Vec::new();
        for e in &entries {
            if let Some(u) = self.user_of(e).await? {
                out.push(u);
            }
        }
        Ok(out)
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let s = &self.settings;
        if !s.group_attribute.is_empty() {
            let entries = self
                .search(
                    dn,
                    Scope::Base,
                    "(objectClass=*)",
                    vec![s.group_attribute.clone()],
                )
                .await?;
            let Some(entry) = entries.first() else {
                return Ok(Vec::new());
            };
            let mut names: Vec<String> = self
                .ranged_values(entry, &s.group_attribute)
                .await?
                .iter()
                .map(|d| group_name_of(d))
                .collect();
            names.sort();
            names.dedup();
            return Ok(names);
        }
        let base = if s.group_base_dn.is_empty() {
            &s.base_dn
        } else {
            &s.group_base_dn
        };
        let filter = format!(
            "(&{}({}={}))",
            s.group_filter,
            s.group_member_attribute,
            ldap_escape(dn)
        );
        let entries = self
            .search(
                base,
                Scope::Subtree,
                &filter,
                vec![s.group_name_attribute.clone()],
            )
            .await?;
        let mut names: Vec<String> = entries
            .iter()
            .map(|e| first(e, &s.group_name_attribute).unwrap_or_else(|| group_name_of(&e.dn)))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn authenticate(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError> {
        // An empty password is an unauthenticated bind, which LDAP servers accept: never ask.
        if password.is_empty() {
            return Ok(None);
        }
        let Some(user) = self.user_by_uid(uid).await? else {
            return Ok(None);
        };
        let _permit = match tokio::time::timeout(self.timeout(), self.binds.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(DirectoryError::Unavailable("shutting down".into())),
            Err(_) => {
                return Err(DirectoryError::Unavailable(
                    "too many password checks waiting for the directory".into(),
                ))
            }
        };
        let mut ldap = self.connect().await?;
        let bind = ldap
            .with_timeout(self.timeout())
            .simple_bind(&user.dn, password);
        let result = tokio::time::timeout(self.timeout(), bind).await;
        let _ = tokio::time::timeout(Duration::from_millis(200), ldap.unbind()).await;
        match result {
            Err(_) => Err(DirectoryError::Unavailable(
                "password check timed out".into(),
            )),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(r)) if r.rc == 0 => Ok(Some(user)),
            // invalidCredentials, and inappropriateAuthentication for odd accounts
            Ok(Ok(r)) if r.rc == 49 || r.rc == 48 => Ok(None),
            Ok(Ok(r)) => Err(classify(LdapError::LdapResult { result: r })),
        }
    }

    async fn list_users(&self, limit: usize) -> Result<Vec<DirectoryUser>, DirectoryError> {
        let entries = self
            .search_limited(
                &self.settings.base_dn,
                Scope::Subtree,
                &self.settings.user_filter,
                self.user_attrs(),
                Some(limit),
            )
            .await?;
        let mut out = Vec::new();
        for e in entries.iter().take(limit) {
            if let Some(u) = self.user_of(e).await? {
                out.push(u);
            }
        }
        Ok(out)
    }

    async fn check(&self) -> CheckReport {
        let s = &self.settings;
        let tls = if s.url.starts_with("ldaps://") {
            "LDAPS"
        } else if s.starttls {
            "StartTLS"
        } else {
            "no TLS"
        };
        let mut steps = Vec::new();
        let mut sample = Vec::new();
        match self.handle().await {
            Err(e) => steps.push(CheckStep {
                name: "connect".into(),
                ok: false,
                detail: e.to_string(),
            }),
            Ok(_) => {
                steps.push(CheckStep {
                    name: "connect".into(),
                    ok: true,
                    detail: format!("{} ({tls})", s.url),
                });
                steps.push(CheckStep {
                    name: "bind".into(),
                    ok: true,
                    detail: if s.bind_dn.is_empty() {
                        "anonymous".into()
                    } else {
                        s.bind_dn.clone()
                    },
                });
                match self.list_users(200).await {
                    Err(e) => steps.push(CheckStep {
                        name: "search users".into(),
                        ok: false,
                        detail: e.to_string(),
                    }),
                    Ok(users) => {
                        steps.push(CheckStep {
                            name: "search users".into(),
                            ok: !users.is_empty(),
                            detail: format!(
                                "{}{} users under {} with {}",
                                users.len(),
                                if users.len() == 200 { "+" } else { "" },
                                s.base_dn,
                                s.user_filter
                            ),
                        });
                        steps.extend(mapping_steps(s, &users));
                        sample = users.into_iter().take(5).collect();
                    }
                }
            }
        }
        CheckReport {
            kind: "ldap",
            location: s.url.clone(),
            steps,
            sample,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranged_attributes_give_the_next_start() {
        let mut attrs = HashMap::new();
        attrs.insert(
            "memberOf;range=0-1499".to_string(),
            vec!["cn=a".to_string()],
        );
        assert_eq!(next_range(&attrs, "memberOf"), Some(1500));
        let mut last = HashMap::new();
        last.insert(
            "memberOf;range=1500-*".to_string(),
            vec!["cn=b".to_string()],
        );
        assert_eq!(next_range(&last, "memberof"), None);
        let mut plain = HashMap::new();
        plain.insert("memberOf".to_string(), vec!["cn=b".to_string()]);
        assert_eq!(next_range(&plain, "memberOf"), None);
    }

    #[test]
    fn user_values_are_escaped_in_filters() {
        assert_eq!(ldap_escape("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(ldap_escape("a\\b\0"), "a\\5cb\\00");
    }
}
