//! Who scanned: the strongest evidence wins, and its method and strength are recorded with the
//! capture. A scan nobody can be named for is quarantined "to attribute", never archived
//! anonymously; two people who could have scanned it are not guessed between.

use serde::Serialize;

/// How a scan's author is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Their personal FTP login (a password only they know).
    FtpLogin,
    /// Their badge session at that copier.
    BadgeSession,
    /// The copier said so in the scan's metadata (its own sign-in).
    Sidecar,
    /// An operator named them.
    Operator,
    /// Nobody.
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::FtpLogin => "ftp-login",
            Method::BadgeSession => "badge-session",
            Method::Sidecar => "sidecar",
            Method::Operator => "operator",
            Method::None => "none",
        }
    }
}

/// How much the attribution can be relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// The person proved who they are for this very scan (session open when it arrived, their
    /// own login, an operator's decision).
    Strong,
    /// Inferred: a session that ended shortly before, or the copier's word.
    Medium,
    None,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Strong => "strong",
            Strength::Medium => "medium",
            Strength::None => "none",
        }
    }
}

/// The outcome of attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub uid: Option<String>,
    pub method: Method,
    pub strength: Strength,
    /// Why nobody was named (quarantine reason), when `uid` is `None`.
    pub unresolved: Option<String>,
}

impl Attribution {
    fn to(uid: &str, method: Method, strength: Strength) -> Attribution {
        Attribution {
            uid: Some(uid.to_owned()),
            method,
            strength,
            unresolved: None,
        }
    }

    fn nobody(why: String) -> Attribution {
        Attribution {
            uid: None,
            method: Method::None,
            strength: Strength::None,
            unresolved: Some(why),
        }
    }
}

/// A badge session at the scanning copier: (uid, opened at, ended or expired at), in ms.
pub type Session = (String, i64, i64);

/// Decides who scanned. `login` is a personal FTP login; `sessions` are the badge sessions at
/// that copier around `received_at` (see `scan_captures::sessions_around`); `sidecar` is the
/// user the copier declared.
pub fn decide(
    login: Option<&str>,
    sessions: &[Session],
    received_at: i64,
    window_ms: i64,
    sidecar: Option<&str>,
) -> Attribution {
    if let Some(uid) = login {
        return Attribution::to(uid, Method::FtpLogin, Strength::Strong);
    }
    let open_now: Vec<&Session> = sessions
        .iter()
        .filter(|(_, start, end)| *start <= received_at && received_at <= *end)
        .collect();
    let recent: Vec<&Session> = sessions
        .iter()
        .filter(|(_, start, end)| {
            *start <= received_at && *end < received_at && received_at - *end <= window_ms
        })
        .collect();
    fn people<'a>(list: &[&'a Session]) -> Vec<&'a str> {
        let mut uids: Vec<&str> = list.iter().map(|(u, _, _)| u.as_str()).collect();
        uids.sort_unstable();
        uids.dedup();
        uids
    }
    let (now, before) = (people(&open_now), people(&recent));
    let session_uid = match (now.as_slice(), before.as_slice()) {
        // Someone is badged in and nobody else left within the window: theirs.
        ([one], []) => Some((one.to_string(), Strength::Strong)),
        ([one], others) if others.iter().all(|o| o == one) => {
            Some((one.to_string(), Strength::Strong))
        }
        // Nobody badged in now, exactly one person left within the window.
        ([], [one]) => Some((one.to_string(), Strength::Medium)),
        ([], []) => None,
        _ => {
            let mut all = now.clone();
            all.extend(before.iter().copied());
            all.sort_unstable();
            all.dedup();
            return Attribution::nobody(format!(
                "to attribute: {} were badged in at this copier around the scan",
                all.join(", ")
            ));
        }
    };
    match (session_uid, sidecar) {
        (Some((uid, _)), Some(declared)) if declared != uid => Attribution::nobody(format!(
            "to attribute: the copier says {declared} scanned it, the badge session says {uid}"
        )),
        (Some((uid, strength)), _) => Attribution::to(&uid, Method::BadgeSession, strength),
        (None, Some(declared)) => Attribution::to(declared, Method::Sidecar, Strength::Medium),
        (None, None) => Attribution::nobody(
            "to attribute: nobody was badged in at this copier when the scan arrived".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 120_000;

    fn s(uid: &str, start: i64, end: i64) -> Session {
        (uid.into(), start, end)
    }

    #[test]
    fn evidence_in_order_of_strength() {
        let sessions = [s("nina", 0, 10_000)];
        assert_eq!(
            decide(Some("ftpuser"), &sessions, 5_000, W, None).method,
            Method::FtpLogin
        );
        let open = decide(None, &sessions, 5_000, W, None);
        assert_eq!(
            (open.uid.as_deref(), open.strength),
            (Some("nina"), Strength::Strong)
        );
        let after = decide(None, &sessions, 60_000, W, None);
        assert_eq!(
            (after.uid.as_deref(), after.strength),
            (Some("nina"), Strength::Medium)
        );
        let late = decide(None, &sessions, 10_000 + W + 1, W, None);
        assert!(late.uid.is_none() && late.unresolved.unwrap().contains("nobody"));
        let declared = decide(None, &[], 5_000, W, Some("omar"));
        assert_eq!(
            (declared.uid.as_deref(), declared.method),
            (Some("omar"), Method::Sidecar)
        );
    }

    #[test]
    fn two_candidates_or_a_contradiction_are_never_guessed() {
        // Nina left 10 s ago, Omar is badged in now: either could have sent it.
        let sessions = [s("omar", 50_000, 90_000), s("nina", 0, 40_000)];
        let both = decide(None, &sessions, 50_000, W, None);
        assert!(both.uid.is_none());
        assert!(both.unresolved.unwrap().contains("nina, omar"));
        // The same person's two sessions are one candidate.
        let again = [s("nina", 50_000, 90_000), s("nina", 0, 40_000)];
        assert_eq!(
            decide(None, &again, 50_000, W, None).uid.as_deref(),
            Some("nina")
        );
        let contradiction = decide(None, &[s("nina", 0, 90_000)], 50_000, W, Some("omar"));
        assert!(contradiction
            .unresolved
            .unwrap()
            .contains("the copier says omar"));
    }
}
