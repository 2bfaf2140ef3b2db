//! One throttle on password guessing for every channel (console, REST, IPP, copier terminal,
//! FTP), consulted before any password is compared, even a remembered one: past a few wrong
//! passwords for one login, or many from one address, attempts are refused without being
//! checked until the window ends. Failures are audited in aggregate: the first of a window at
//! once, then one event with the count when the window closes or the lock trips.
//!
//! A login that has signed in from an address keeps working from that address while another
//! address is locked out of it: guessing from elsewhere must not stop someone's printing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords for one login before it is locked for the rest of the window (and before
/// Folio would lock the account in Active Directory by asking it again and again).
pub const LOGIN_FAILURES: u32 = 5;
/// Wrong passwords from one address, whatever the logins (password spraying).
pub const ADDRESS_FAILURES: u32 = 20;
/// How long failures are counted, and a lock lasts.
pub const WINDOW: Duration = Duration::from_secs(300);
/// How long an address that signed a login in stays exempt from that login's lock.
const KNOWN_GOOD: Duration = Duration::from_secs(12 * 3600);
/// Entries kept before the oldest are forgotten (memory bound under a flood).
const MAX_ENTRIES: usize = 100_000;

/// Where a sign-in attempt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Console,
    Api,
    Ipp,
    Terminal,
    Ftp,
    /// A command-line tool or a test: no address.
    Tool,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Console => "console",
            Channel::Api => "api",
            Channel::Ipp => "ipp",
            Channel::Terminal => "terminal",
            Channel::Ftp => "ftp",
            Channel::Tool => "tool",
        }
    }

    /// The audit action of this channel's failed sign-ins.
    pub fn action(self) -> &'static str {
        match self {
            Channel::Console => "console.login",
            Channel::Api => "api.login",
            Channel::Ipp => "ipp.login",
            Channel::Terminal => "release.session",
            Channel::Ftp => "scan.ftp_login",
            Channel::Tool => "directory.login",
        }
    }
}

/// A sign-in attempt's origin.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub channel: Channel,
    /// The client's address (behind a trusted proxy, the address it forwarded).
    pub address: Option<IpAddr>,
}

impl Origin {
    pub fn new(channel: Channel, address: Option<IpAddr>) -> Origin {
        Origin {
            channel,
            address: address.map(|a| a.to_canonical()),
        }
    }
}

/// Failures to write to the audit trail: `failures` wrong passwords for `login` from `address`
/// on `channel`, and whether that locked the login or the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures {
    pub channel: Channel,
    pub login: String,
    pub address: Option<IpAddr>,
    pub failures: u32,
    pub locked: bool,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    failures: u32,
    since: Instant,
}

impl Window {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.since) < WINDOW
    }
}

/// Failures not yet audited for one (channel, login, address).
#[derive(Debug, Clone, Copy)]
struct Tally {
    unreported: u32,
    since: Instant,
    locked: bool,
    /// The window's first failure was audited.
    opened: bool,
}

#[derive(Default)]
struct State {
    logins: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
    known_good: HashMap<(String, IpAddr), Instant>,
    tallies: HashMap<(Channel, String, Option<IpAddr>), Tally>,
}

/// The throttle (one per process; behind [`super::DirectoryService`]).
#[derive(Default)]
pub struct Throttle {
    state: Mutex<State>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(wait)` when `login` (its lower-cased key) may not be tried now from `origin`.
    pub fn check(&self, login: &str, origin: Origin) -> Result<(), Duration> {
        let now = Instant::now();
        let state = self.lock();
        let wait = |w: &Window, max: u32| {
            (w.live(now) && w.failures >= max).then(|| WINDOW - now.duration_since(w.since))
        };
        if let Some(a) = origin.address {
            if let Some(d) = state
                .addresses
                .get(&a)
                .and_then(|w| wait(w, ADDRESS_FAILURES))
            {
                return Err(d);
            }
            let known = state
                .known_good
                .get(&(login.to_owned(), a))
                .is_some_and(|at| now.duration_since(*at) < KNOWN_GOOD);
            if known {
                return Ok(());
            }
        }
        match state
            .logins
            .get(login)
            .and_then(|w| wait(w, LOGIN_FAILURES))
        {
            Some(d) => Err(d),
            None => Ok(()),
        }
    }

    /// Counts a wrong password (or an attempt refused by the throttle); returns what to audit
    /// now: the first failure of a window, and the one that locks.
    pub fn failed(&self, login: &str, origin: Origin) -> Option<Failures> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.logins.len() + state.addresses.len() + state.tallies.len() > MAX_ENTRIES {
            state.logins.retain(|_, w| w.live(now));
            state.addresses.retain(|_, w| w.live(now));
            state
                .tallies
                .retain(|_, t| now.duration_since(t.since) < WINDOW);
        }
        let bump = |w: &mut Window| {
            if !w.live(now) {
                *w = Window {
                    failures: 0,
                    since: now,
                };
            }
            w.failures = w.failures.saturating_add(1);
            w.failures
        };
        let fresh = Window {
            failures: 0,
            since: now,
        };
        let by_login = bump(state.logins.entry(login.to_owned()).or_insert(fresh));
        let by_address = origin
            .address
            .map(|a| bump(state.addresses.entry(a).or_insert(fresh)));
        let locks = by_login == LOGIN_FAILURES || by_address == Some(ADDRESS_FAILURES);
        let key = (origin.channel, login.to_owned(), origin.address);
        let fresh = Tally {
            unreported: 0,
            since: now,
            locked: false,
            opened: false,
        };
        let tally = state.tallies.entry(key).or_insert(fresh);
        if now.duration_since(tally.since) >= WINDOW {
            *tally = fresh;
        }
        tally.unreported += 1;
        tally.locked |= locks;
        let first = !tally.opened;
        tally.opened = true;
        if first || locks {
            let failures = tally.unreported;
            tally.unreported = 0;
            return Some(Failures {
                channel: origin.channel,
                login: login.to_owned(),
                address: origin.address,
                failures,
                locked: locks,
            });
        }
        None
    }

    /// Clears `login`'s failures after a right password, and remembers the address as good
    /// for it. The address's own count stays: an attacker's valid account must not reset it.
    pub fn succeeded(&self, login: &str, origin: Origin) {
        let mut state = self.lock();
        state.logins.remove(login);
        if let Some(a) = origin.address {
            if state.known_good.len() > MAX_ENTRIES {
                state.known_good.clear();
            }
            state
                .known_good
                .insert((login.to_owned(), a), Instant::now());
        }
    }

    /// Failures counted but not yet audited whose window has closed, taken for the audit.
    pub fn sweep(&self) -> Vec<Failures> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut out = Vec::new();
        state.tallies.retain(|(channel, login, address), t| {
            if now.duration_since(t.since) < WINDOW {
                return true;
            }
            if t.unreported > 0 {
                out.push(Failures {
                    channel: *channel,
                    login: login.clone(),
                    address: *address,
                    failures: t.unreported,
                    locked: t.locked,
                });
            }
            false
        });
        state.logins.retain(|_, w| w.live(now));
        state.addresses.retain(|_, w| w.live(now));
        out
    }
}

/// A plain limit on attempts, successes included: at most `max` per key in a sliding window
/// of `window` (self-service card registration, where every answer tells something).
pub struct Attempts {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<String, Window>>,
}

impl Attempts {
    pub fn new(max: u32, window: Duration) -> Attempts {
        Attempts {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for every key, unless one of them is spent: then `Err(wait)` and
    /// nothing is counted.
    pub fn take(&self, keys: &[String]) -> Result<(), Duration> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > MAX_ENTRIES {
            let window = self.window;
            seen.retain(|_, w| now.duration_since(w.since) < window);
        }
        for k in keys {
            if let Some(w) = seen.get(k) {
                let age = now.duration_since(w.since);
                if age < self.window && w.failures >= self.max {
                    return Err(self.window - age);
                }
            }
        }
        for k in keys {
            let w = seen.entry(k.clone()).or_insert(Window {
                failures: 0,
                since: now,
            });
            if now.duration_since(w.since) >= self.window {
                *w = Window {
                    failures: 0,
                    since: now,
                };
            }
            w.failures += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(a: &str) -> Origin {
        Origin::new(Channel::Api, Some(a.parse().unwrap()))
    }

    #[test]
    fn a_login_locks_after_five_wrong_passwords_and_the_first_and_the_lock_are_audited() {
        let t = Throttle::default();
        let mut audited = Vec::new();
        for _ in 0..LOGIN_FAILURES {
            assert!(t.check("alice", from("10.0.0.1")).is_ok());
            audited.extend(t.failed("alice", from("10.0.0.1")));
        }
        assert!(t.check("alice", from("10.0.0.1")).is_err());
        assert!(t.check("alice", from("10.0.0.2")).is_err(), "from anywhere");
        assert!(t.check("bob", from("10.0.0.1")).is_ok());
        assert_eq!(audited.len(), 2);
        assert_eq!((audited[0].failures, audited[0].locked), (1, false));
        assert_eq!((audited[1].failures, audited[1].locked), (4, true));
    }

    #[test]
    fn an_address_guessing_many_logins_is_locked_out() {
        let t = Throttle::default();
        for i in 0..ADDRESS_FAILURES {
            t.failed(&format!("user{i}"), from("192.0.2.7"));
        }
        assert!(t.check("someone", from("192.0.2.7")).is_err());
        assert!(t.check("someone", from("192.0.2.8")).is_ok());
    }

    #[test]
    fn where_a_login_signed_in_it_keeps_working_while_guessed_elsewhere() {
        let t = Throttle::default();
        t.succeeded("alice", from("10.0.0.1"));
        for _ in 0..LOGIN_FAILURES {
            t.failed("alice", from("203.0.113.9"));
        }
        assert!(t.check("alice", from("203.0.113.9")).is_err());
        assert!(t.check("alice", from("10.0.0.1")).is_ok());
    }

    #[test]
    fn attempts_are_limited_per_key_successes_included() {
        let a = Attempts::new(2, Duration::from_secs(60));
        let keys = |u: &str| vec![format!("user:{u}"), "addr:10.0.0.1".to_owned()];
        assert!(a.take(&keys("alice")).is_ok());
        assert!(a.take(&keys("alice")).is_ok());
        assert!(a.take(&keys("alice")).is_err());
        assert!(a.take(&keys("bob")).is_err(), "the address is spent too");
        assert!(a.take(&["user:bob".to_owned()]).is_ok());
    }

    #[test]
    fn a_right_password_clears_the_login_but_not_the_address() {
        let t = Throttle::default();
        for i in 0..ADDRESS_FAILURES - 1 {
            t.failed(&format!("user{i}"), from("192.0.2.7"));
        }
        t.succeeded("mallory", from("192.0.2.7"));
        t.failed("user0", from("192.0.2.7"));
        assert!(t.check("mallory", from("192.0.2.7")).is_err());
    }
}
