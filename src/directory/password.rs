//! Password and PIN hashes.
//!
//! `userPassword` values of the file directory use the schemes OpenLDAP understands, so the
//! file can be loaded into a server unchanged: `{ARGON2}` (PHC string, as slapd's argon2
//! module writes it) and `{SSHA}` / `{SSHA256}` / `{SSHA512}` (salted SHA, base64 of digest
//! then salt). Clear-text and `{CRYPT}` values are refused. PINs are argon2id PHC strings.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use sha2::Digest;
use subtle::ConstantTimeEq;

/// Why a stored password value cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashError {
    #[error("unsupported password scheme {0} (use {{ARGON2}} or {{SSHA}})")]
    Unsupported(String),
    #[error("clear-text passwords are refused (hash them with `folio directory hash-password`)")]
    ClearText,
    #[error("malformed {0} value")]
    Malformed(&'static str),
}

/// Checks `password` against a `userPassword` value. `Err` when the stored value cannot be
/// checked at all (reported at load time), `Ok(false)` for a wrong password.
pub fn verify_user_password(stored: &str, password: &str) -> Result<bool, HashError> {
    let (scheme, rest) = split_scheme(stored)?;
    match scheme.to_ascii_uppercase().as_str() {
        "ARGON2" => {
            let hash = PasswordHash::new(rest).map_err(|_| HashError::Malformed("{ARGON2}"))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok())
        }
        "SSHA" => salted::<sha1::Sha1>(rest, password, "{SSHA}"),
        "SSHA256" => salted::<sha2::Sha256>(rest, password, "{SSHA256}"),
        "SSHA512" => salted::<sha2::Sha512>(rest, password, "{SSHA512}"),
        other => Err(HashError::Unsupported(format!("{{{other}}}"))),
    }
}

/// Checks that a stored value uses a supported scheme and is well formed, without hashing
/// anything (a directory of 15,000 argon2 hashes loads in milliseconds).
pub fn check_user_password(stored: &str) -> Result<(), HashError> {
    let (scheme, rest) = split_scheme(stored)?;
    let salted_len = |size: usize, name: &'static str| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| HashError::Malformed(name))?;
        if raw.len() <= size {
            return Err(HashError::Malformed(name));
        }
        Ok(())
    };
    match scheme.to_ascii_uppercase().as_str() {
        "ARGON2" => PasswordHash::new(rest)
            .map(|_| ())
            .map_err(|_| HashError::Malformed("{ARGON2}")),
        "SSHA" => salted_len(20, "{SSHA}"),
        "SSHA256" => salted_len(32, "{SSHA256}"),
        "SSHA512" => salted_len(64, "{SSHA512}"),
        other => Err(HashError::Unsupported(format!("{{{other}}}"))),
    }
}

fn split_scheme(stored: &str) -> Result<(&str, &str), HashError> {
    let rest = stored.strip_prefix('{').ok_or(HashError::ClearText)?;
    let end = rest.find('}').ok_or(HashError::ClearText)?;
    Ok((&rest[..end], &rest[end + 1..]))
}

fn salted<D: Digest>(b64: &str, password: &str, scheme: &'static str) -> Result<bool, HashError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| HashError::Malformed(scheme))?;
    let size = <D as Digest>::output_size();
    if raw.len() <= size {
        return Err(HashError::Malformed(scheme));
    }
    let (digest, salt) = raw.split_at(size);
    let mut h = D::new();
    h.update(password.as_bytes());
    h.update(salt);
    Ok(h.finalize().as_slice().ct_eq(digest).into())
}

/// A new `{ARGON2}` `userPassword` value (argon2id, default parameters, random salt).
pub fn hash_user_password(password: &str) -> String {
    format!("{{ARGON2}}{}", hash_phc(password))
}

/// An argon2id PHC string for a PIN or password.
pub fn hash_phc(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        // Hashing with default parameters and a generated salt cannot fail.
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Checks a secret against a PHC string made by [`hash_phc`].
pub fn verify_phc(phc: &str, secret: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A `{SSHA}` value (for tests and interchange with older directories).
pub fn ssha(password: &str, salt: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(password.as_bytes());
    h.update(salt);
    let mut raw = h.finalize().to_vec();
    raw.extend_from_slice(salt);
    format!(
        "{{SSHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_values_verify() {
        let v = hash_user_password("s3cret");
        assert!(v.starts_with("{ARGON2}$argon2id$"));
        assert_eq!(verify_user_password(&v, "s3cret"), Ok(true));
        assert_eq!(verify_user_password(&v, "S3cret"), Ok(false));
    }

    #[test]
    fn ssha_values_from_slappasswd_verify() {
        // `slappasswd -h {SSHA} -s secret` output format: base64(sha1(pw + salt) + salt).
        let v = ssha("secret", b"\x01\x02\x03\x04");
        assert_eq!(verify_user_password(&v, "secret"), Ok(true));
        assert_eq!(verify_user_password(&v, "secreT"), Ok(false));
        assert!(check_user_password(&v).is_ok());
    }

    #[test]
    fn clear_text_and_unknown_schemes_are_refused() {
        assert_eq!(
            verify_user_password("secret", "secret"),
            Err(HashError::ClearText)
        );
        assert!(matches!(
            verify_user_password("{CRYPT}abc", "x"),
            Err(HashError::Unsupported(_))
        ));
        assert!(matches!(
            verify_user_password("{SSHA}!!", "x"),
            Err(HashError::Malformed(_))
        ));
        assert!(matches!(
            verify_user_password("{ARGON2}nope", "x"),
            Err(HashError::Malformed(_))
        ));
    }

    #[test]
    fn pins_hash_and_verify() {
        let h = hash_phc("4321");
        assert!(verify_phc(&h, "4321"));
        assert!(!verify_phc(&h, "1234"));
        assert!(!verify_phc("garbage", "1234"));
    }
}
