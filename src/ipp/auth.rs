//! Who is asking: the identity of an IPP request.
//!
//! HTTP Basic credentials, when sent, are checked against the directory in every mode. Without
//! them, `ipp.auth = "basic"` answers job operations with HTTP 401 (clients then prompt), and
//! `"requesting-user-name"` believes the name the client sends, but only from trusted networks.
//! Either way the owner of a job is the directory's uid, and a user the directory does not
//! know is refused. Reading the printer's attributes needs nobody; reading jobs without an
//! identity shows them anonymised (see `Ctx::owns`).

use actix_web::HttpRequest;
use base64::Engine;

use super::wire::Group;
use super::{requesting_user, status, IppError};
use crate::config::IppAuthMode;
use crate::directory::throttle::{Channel, Origin};
use crate::directory::{DirectoryService, Login, LookupError};
use crate::domain::ANONYMOUS;

/// How the queue authenticates, and the directory it asks.
pub struct IppAuth {
    pub mode: IppAuthMode,
    pub trusted: Vec<ipnet::IpNet>,
    pub directory: DirectoryService,
    /// Reverse proxies whose forwarded client address is believed.
    pub proxies: crate::web::client::TrustedProxies,
}

/// Operations that act as someone: they need an identity.
fn needs_identity(operation: u16) -> bool {
    matches!(
        operation,
        0x02 | 0x03 | 0x04 | 0x05 | 0x06 | 0x08 | 0x0C | 0x0D | 0x39 | 0x3B
    )
}

impl IppAuth {
    /// True when `peer` is in a trusted network.
    pub fn is_trusted(&self, peer: Option<std::net::IpAddr>) -> bool {
        peer.map(|ip| ip.to_canonical())
            .is_some_and(|ip| self.trusted.iter().any(|n| n.contains(&ip)))
    }

    /// The login name the request acts as (`anonymous` when none is needed and none given).
    pub async fn identify(
        &self,
        http: &HttpRequest,
        op: &Group,
        operation: u16,
    ) -> Result<String, IppError> {
        let needed = needs_identity(operation);
        if let Some(header) = http.headers().get(actix_web::http::header::AUTHORIZATION) {
            let Some((uid, password)) = header.to_str().ok().and_then(basic_credentials) else {
                return Err(IppError::new(
                    status::NOT_AUTHENTICATED,
                    "only HTTP Basic authentication is supported",
                ));
            };
            let origin = Origin::new(Channel::Ipp, self.proxies.client_of(http));
            return match self.directory.sign_in(origin, &uid, &password).await {
                Ok(Login::Accepted(user)) => Ok(user.uid),
                Ok(Login::Throttled(wait)) => Err(IppError::new(
                    status::SERVICE_UNAVAILABLE,
                    format!(
                        "too many wrong passwords: try again in {} minutes",
                        wait.as_secs().div_ceil(60).max(1)
                    ),
                )),
                Ok(Login::Refused) => {
                    // The name as typed may be a password typed in the wrong field, or carry
                    // control characters: only a valid, short name reaches the log.
                    let shown = crate::domain::UserName::parse(&uid)
                        .map(|u| u.as_str().chars().take(64).collect::<String>())
                        .unwrap_or_else(|| "(invalid)".into());
                    tracing::info!(user = %shown, "IPP authentication refused");
                    Err(IppError::new(
                        status::NOT_AUTHENTICATED,
                        "wrong user name or password",
                    ))
                }
                Err(e) => Err(unavailable(e)),
            };
        }
        if !needed {
            return match self.mode {
                IppAuthMode::Basic => Ok(ANONYMOUS.to_owned()),
                IppAuthMode::RequestingUserName => self.claimed(op, http, false).await,
            };
        }
        match self.mode {
            IppAuthMode::Basic => Err(IppError::new(
                status::NOT_AUTHENTICATED,
                "authentication is required to print",
            )),
            IppAuthMode::RequestingUserName => self.claimed(op, http, true).await,
        }
    }

    /// The directory uid of the `requesting-user-name`, when the client may be believed.
    async fn claimed(
        &self,
        op: &Group,
        http: &HttpRequest,
        needed: bool,
    ) -> Result<String, IppError> {
        let name = requesting_user(op)?;
        let refuse = |message: String| {
            if needed {
                Err(IppError::new(status::NOT_AUTHORIZED, message))
            } else {
                Ok(ANONYMOUS.to_owned())
            }
        };
        if !self.is_trusted(self.proxies.client_of(http)) {
            // Challenge instead of refusing, so the client asks its user for a password.
            if needed {
                return Err(IppError::new(
                    status::NOT_AUTHENTICATED,
                    "this network is not trusted to name its users: log in to print",
                ));
            }
            return Ok(ANONYMOUS.to_owned());
        }
        if name == ANONYMOUS {
            return refuse("requesting-user-name is required to print".into());
        }
        match self.directory.user(&name).await {
            Ok(Some(found)) => Ok(found.user.uid),
            Ok(None) => refuse(format!("{name} is not a known user")),
            Err(e) if needed => Err(unavailable(e)),
            Err(_) => Ok(ANONYMOUS.to_owned()),
        }
    }
}

fn unavailable(e: LookupError) -> IppError {
    tracing::warn!(error = %e, "IPP request refused: the directory cannot be asked");
    IppError::new(
        status::SERVICE_UNAVAILABLE,
        "the staff directory is unavailable; try again in a minute",
    )
}

/// `(user, password)` of a `Basic` Authorization header value.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_others_refused() {
        // "alice:pa:ss" — the password may contain colons.
        assert_eq!(
            basic_credentials("Basic YWxpY2U6cGE6c3M="),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials("basic  YWxpY2U6cGE6c3M= "),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Basic YWxpY2U="), None, "no colon");
    }

    #[test]
    fn only_job_operations_need_an_identity() {
        assert!(needs_identity(0x02));
        assert!(needs_identity(0x05));
        assert!(needs_identity(0x08));
        assert!(!needs_identity(0x0B));
        assert!(!needs_identity(0x09));
        assert!(!needs_identity(0x0A));
    }
}
