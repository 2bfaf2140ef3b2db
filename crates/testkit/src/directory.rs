//! Directories as LDIF: the tests' users ([`TestUser`], with passwords, badges and groups)
//! for Folio's directory file or a throwaway OpenLDAP, and a synthetic staff of any size
//! (`user00000`…, with a department and a badge each) for the benchmarks.

use std::fmt::Write as _;

/// The password of a test user: `pw-` and the uid.
pub fn password_of(uid: &str) -> String {
    format!("pw-{uid}")
}

/// One user of a test directory.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub uid: String,
    /// Card numbers as stored (`employeeNumber`).
    pub badges: Vec<String>,
    pub department: String,
    /// Groups (`groupOfNames` entries listing the user).
    pub groups: Vec<String>,
}

impl TestUser {
    /// A user of Cardiology with no badge and no group.
    pub fn new(uid: &str) -> TestUser {
        TestUser {
            uid: uid.into(),
            badges: Vec::new(),
            department: "Cardiology".into(),
            groups: Vec::new(),
        }
    }
}

/// `users` as LDIF under `dc=hospital,dc=test` (passwords from [`password_of`], `{SSHA}` as a
/// directory stores them) and their groups as `groupOfNames` entries.
pub fn users_ldif(users: &[TestUser]) -> String {
    let base = "dc=hospital,dc=test";
    let mut out = String::new();
    let mut groups: Vec<&str> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let _ = writeln!(out, "dn: uid={},ou=people,{base}", u.uid);
        let _ = writeln!(
            out,
            "objectClass: inetOrgPerson\nuid: {}\ncn: Test {}\nsn: {}",
            u.uid, u.uid, u.uid
        );
        let _ = writeln!(out, "departmentNumber: {}", u.department);
        for b in &u.badges {
            let _ = writeln!(out, "employeeNumber: {b}");
        }
        let salt = (i as u32).to_be_bytes();
        let _ = writeln!(
            out,
            "userPassword: {}\n",
            folio::directory::password::ssha(&password_of(&u.uid), &salt)
        );
        for g in &u.groups {
            if !groups.contains(&g.as_str()) {
                groups.push(g);
            }
        }
    }
    for g in groups {
        let _ = writeln!(
            out,
            "dn: cn={g},ou=groups,{base}\nobjectClass: groupOfNames\ncn: {g}"
        );
        for u in users.iter().filter(|u| u.groups.iter().any(|x| x == g)) {
            let _ = writeln!(out, "member: uid={},ou=people,{base}", u.uid);
        }
        out.push('\n');
    }
    out
}

/// The departments synthetic staff belong to, in turn.
pub const DEPARTMENTS: [&str; 5] = [
    "Cardiology",
    "Radiology",
    "Emergency",
    "Oncology",
    "Pharmacy",
];

/// The user name of synthetic user `i` (what `folio-bench intake` prints as).
pub fn user_name(i: u32) -> String {
    format!("user{i:05}")
}

/// The card number of synthetic user `i`, as stored (hex with a leading zero).
pub fn badge(i: u32) -> String {
    format!("04{:06X}", 0xB0_0000 + i)
}

/// `users` synthetic staff as LDIF under `dc=bench,dc=test` (no passwords: badge and IPP-name
/// tests only).
pub fn ldif(users: u32) -> String {
    let base = "dc=bench,dc=test";
    let mut out = format!(
        "dn: {base}\nobjectClass: dcObject\nobjectClass: organization\no: Bench\ndc: bench\n\n\
         dn: ou=people,{base}\nobjectClass: organizationalUnit\nou: people\n\n"
    );
    for i in 0..users {
        let u = user_name(i);
        let _ = write!(
            out,
            "dn: uid={u},ou=people,{base}\nobjectClass: inetOrgPerson\nuid: {u}\ncn: Bench {u}\nsn: {u}\n\
             departmentNumber: {}\nemployeeNumber: {}\n\n",
            DEPARTMENTS[i as usize % DEPARTMENTS.len()],
            badge(i)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_has_an_entry_with_their_badge() {
        let text = ldif(3);
        assert_eq!(text.matches("objectClass: inetOrgPerson").count(), 3);
        assert!(text.contains("uid: user00002\n"), "{text}");
        assert!(text.contains(&format!("employeeNumber: {}\n", badge(2))));
        assert_eq!(badge(2), "04B00002");
    }

    #[test]
    fn test_users_get_their_badges_groups_and_a_hashed_password() {
        let mut alice = TestUser::new("alice");
        alice.badges.push("04A1B2C3".into());
        alice.groups.push("doctors".into());
        let text = users_ldif(&[alice, TestUser::new("bob")]);
        assert!(text.contains("employeeNumber: 04A1B2C3\n"), "{text}");
        assert!(text.contains("userPassword: {SSHA}"), "{text}");
        assert!(!text.contains("pw-alice"), "{text}");
        assert!(text.contains("dn: cn=doctors,ou=groups,dc=hospital,dc=test\n"));
        assert_eq!(text.matches("member: ").count(), 1, "{text}");
    }
}
