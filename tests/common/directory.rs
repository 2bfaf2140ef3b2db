//! Directories for tests: the LDIF file every test server gets by default (so the users the
//! tests print as exist), and a real OpenLDAP `slapd` in a temp dir on loopback with TLS, AD-like
//! attributes, the memberof overlay, AD-like paging limits and 600+ users.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use testkit::directory::{password_of, users_ldif, TestUser};

use super::{free_port, INSTALL_HINT};

/// The login name of this process (what ipptool sends as requesting-user-name).
pub fn login_name() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Users of the default test directory: names the tests print as, and `user0`…`user199`.
pub fn default_users() -> Vec<String> {
    let mut users: Vec<String> = ["alice", "bob", "carol", "dave", "mallory", "x"]
        .into_iter()
        .map(String::from)
        .collect();
    users.extend((0..200).map(|i| format!("user{i}")));
    let me = login_name();
    if !me.is_empty() && !users.contains(&me) {
        users.push(me);
    }
    users
}

/// Writes an LDIF directory with `users` (see [`testkit::directory::users_ldif`]).
pub fn write_ldif(path: &Path, users: &[TestUser]) {
    fs::write(path, users_ldif(users))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Writes the default test directory (see [`default_users`]) at `path`.
pub fn write_default(path: &Path) {
    let users: Vec<TestUser> = default_users().iter().map(|u| TestUser::new(u)).collect();
    write_ldif(path, &users);
}

// ---------------------------------------------------------------------------------------------
// slapd
// ---------------------------------------------------------------------------------------------

/// The suffix of the test LDAP tree.
pub const SUFFIX: &str = "dc=hospital,dc=test";
/// The service account Folio binds as, and its password.
pub const SERVICE_DN: &str = "cn=svc-print,ou=services,dc=hospital,dc=test";
pub const SERVICE_PASSWORD: &str = "svc-secret-4711";
/// Regular staff in the tree: `staff0001`…
pub const STAFF: u32 = 600;
/// Groups `biggroups` is a member of.
pub const BIG_GROUPS: u32 = 5000;

/// The badge (hex, stored with a leading zero) of staff member `i`.
pub fn staff_badge(i: u32) -> String {
    format!("04{:06X}", 0xA1_0000 + i)
}

/// The numeric card value of staff member `i` (what a decimal reader sends).
pub fn staff_badge_decimal(i: u32) -> u64 {
    u64::from_str_radix(&staff_badge(i), 16).unwrap()
}

/// A running slapd, stopped when dropped.
pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
    child: Option<Child>,
}

fn need(tool: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is not installed (Debian packages slapd, ldap-utils, openssl); {INSTALL_HINT}");
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Slapd {
    /// Starts a fresh slapd with the whole test tree.
    pub fn start() -> Slapd {
        let dir = tempfile::Builder::new()
            .prefix("folio-slapd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("db")).unwrap();
        make_certificates(d);
        fs::write(d.join("adcompat.schema"), AD_SCHEMA).unwrap();
        fs::write(d.join("slapd.conf"), slapd_conf(d)).unwrap();
        fs::write(d.join("bulk.ldif"), bulk_ldif()).unwrap();
        // Bulk load offline (fast); memberOf of `biggroups` is written directly, as AD shows it.
        run(
            Command::new(need("slapadd"))
                .args(["-q", "-f"])
                .arg(d.join("slapd.conf"))
                .arg("-l")
                .arg(d.join("bulk.ldif")),
            "slapadd",
        );
        let mut s = Slapd {
            port: free_port(),
            tls_port: free_port(),
            dir,
            child: None,
        };
        s.launch();
        // Groups added online, so the memberof overlay maintains memberOf.
        fs::write(s.dir.path().join("groups.ldif"), online_groups()).unwrap();
        run(
            Command::new(need("ldapadd"))
                .args([
                    "-x",
                    "-H",
                    &s.url(),
                    "-D",
                    &format!("cn=admin,{SUFFIX}"),
                    "-w",
                    "adminpw",
                    "-f",
                ])
                .arg(s.dir.path().join("groups.ldif")),
            "ldapadd groups",
        );
        s
    }

    fn launch(&mut self) {
        let d = self.dir.path();
        let log = fs::File::create(d.join("slapd.log")).unwrap();
        let child = Command::new(need("slapd"))
            .args(["-d", "0", "-f"])
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
                self.port, self.tls_port
            ))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting slapd: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new(need("ldapsearch"))
                .args([
                    "-x",
                    "-H",
                    &self.url(),
                    "-b",
                    "",
                    "-s",
                    "base",
                    "namingContexts",
                ])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not start: {}",
                fs::read_to_string(d.join("slapd.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (the directory goes down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    /// A CA that did not sign the server's certificate.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/other-ca.crt")
    }

    /// A file holding the service account's password.
    pub fn password_file(&self) -> PathBuf {
        let p = self.dir.path().join("svc.password");
        fs::write(&p, format!("{SERVICE_PASSWORD}\n")).unwrap();
        p
    }

    /// `[directory]` settings for this server (OpenLDAP mapping, StartTLS with the test CA).
    pub fn settings(&self) -> folio::config::DirectorySettings {
        folio::config::DirectorySettings {
            kind: folio::config::DirectoryKind::Ldap,
            url: self.url(),
            starttls: true,
            ca_file: self.ca_file(),
            bind_dn: SERVICE_DN.into(),
            bind_password_file: self.password_file(),
            base_dn: SUFFIX.into(),
            badge_attributes: vec!["employeeNumber".into(), "folioBadge".into()],
            timeout: 3,
            connect_timeout: 2,
            // The test server, like many, refuses pages larger than its size limit (10).
            page_size: 10,
            // As the other tests (see `test_settings`); PINs have tests of their own.
            badge_requires_pin: false,
            ..Default::default()
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn make_certificates(d: &Path) {
    let tls = d.join("tls");
    fs::create_dir_all(&tls).unwrap();
    let openssl = need("openssl");
    let sh =
        |args: &[&str], what: &str| run(Command::new(&openssl).args(args).current_dir(&tls), what);
    sh(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Folio Test LDAP CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
        "CA",
    );
    sh(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Some Other CA",
            "-keyout",
            "other-ca.key",
            "-out",
            "other-ca.crt",
        ],
        "other CA",
    );
    sh(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        "server key",
    );
    fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
        "server certificate",
    );
}

const AD_SCHEMA: &str = "attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.100.2 NAME 'folioBadge'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.4203.666.100.1 NAME 'adCompatUser' AUXILIARY
  MAY ( sAMAccountName $ employeeID $ folioBadge ) )
";

fn slapd_conf(d: &Path) -> String {
    let d = d.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {d}/adcompat.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile  {d}/slapd.pid
argsfile {d}/slapd.args
loglevel stats
TLSCACertificateFile  {d}/tls/ca.crt
TLSCertificateFile    {d}/tls/server.crt
TLSCertificateKeyFile {d}/tls/server.key
# AD-like: unpaged searches stop at 10 entries, paged searches may fetch everything
sizelimit size.soft=10 size.hard=10 size.pr=10 size.prtotal=unlimited

database mdb
maxsize 1073741824
suffix   \"{SUFFIX}\"
rootdn   \"cn=admin,{SUFFIX}\"
rootpw   adminpw
directory {d}/db
index objectClass eq
index uid,employeeNumber,employeeID,folioBadge,sAMAccountName,mail eq
index member,memberOf eq
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by * none
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
"
    )
}

/// Base entries, the service account, staff, special cases and the 5,000 groups of `biggroups`.
fn bulk_ldif() -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Test Hospital\ndc: hospital\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=biggroups,{SUFFIX}\nobjectClass: organizationalUnit\nou: biggroups\n\n\
         dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc-print\nuserPassword: {SERVICE_PASSWORD}\n\n"
    );
    let departments = testkit::directory::DEPARTMENTS;
    let person = |out: &mut String, uid: &str, extra: &str| {
        let _ = write!(
            out,
            "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: adCompatUser\n\
             uid: {uid}\nsAMAccountName: {uid}\ncn: Staff {uid}\nsn: {uid}\nuserPassword: {}\n{extra}\n",
            super::directory::password_of(uid)
        );
    };
    for i in 1..=STAFF {
        let uid = format!("staff{i:04}");
        let extra = format!(
            "mail: {uid}@hospital.test\ndepartmentNumber: {}\nbusinessCategory: CC-{}\n\
             employeeNumber: {}\nemployeeID: {:012}\n",
            departments[(i % 5) as usize],
            1000 + i % 5,
            staff_badge(i),
            staff_badge_decimal(i)
        );
        person(&mut out, &uid, &extra);
    }
    person(&mut out, "twocards", "departmentNumber: Radiology\nemployeeNumber: 0BADCAFE01\nfolioBadge: 0BADCAFE02\nfolioBadge: BADCAFE03\n");
    person(
        &mut out,
        "dup1",
        "departmentNumber: Radiology\nemployeeNumber: 0DDDDDDD\n",
    );
    person(
        &mut out,
        "dup2",
        "departmentNumber: Oncology\nemployeeNumber: DDDDDDD\n",
    );
    person(&mut out, "bare", "");
    let mut member_of = String::new();
    for g in 1..=BIG_GROUPS {
        let _ = writeln!(member_of, "memberOf: cn=team{g:05},ou=biggroups,{SUFFIX}");
    }
    person(
        &mut out,
        "biggroups",
        &format!("departmentNumber: Pharmacy\nemployeeNumber: 0BB66666\n{member_of}"),
    );
    for g in 1..=BIG_GROUPS {
        let _ = write!(
            out,
            "dn: cn=team{g:05},ou=biggroups,{SUFFIX}\nobjectClass: groupOfNames\ncn: team{g:05}\n\
             member: uid=biggroups,ou=people,{SUFFIX}\n\n"
        );
    }
    out
}

/// Groups added through the server, so the memberof overlay writes memberOf.
fn online_groups() -> String {
    let mut out = format!(
        "dn: cn=print-users,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: print-users\n"
    );
    for i in 1..=STAFF {
        let _ = writeln!(out, "member: uid=staff{i:04},ou=people,{SUFFIX}");
    }
    let _ = write!(
        out,
        "\ndn: cn=color-printing,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: color-printing\n\
         member: uid=staff0001,ou=people,{SUFFIX}\nmember: uid=staff0002,ou=people,{SUFFIX}\n\n"
    );
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP with credentials
// ---------------------------------------------------------------------------------------------

/// An HTTP answer: status, `WWW-Authenticate` header, body.
pub struct HttpAnswer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `Basic …` for `user` and their test password.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Sends `method url` with an optional Authorization header and body (`content_type`).
pub fn http(
    method: &str,
    url: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> HttpAnswer {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(60));
    if let Some(a) = authorization {
        req = req.set("Authorization", a);
    }
    if !body.is_empty() {
        req = req.set("Content-Type", content_type);
    } else {
        // A script's body-less write says it is not a cross-site form (see docs/security.md).
        req = req.set("X-Folio-Request", "1");
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let challenge = resp.header("www-authenticate").map(str::to_owned);
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    HttpAnswer {
        status,
        challenge,
        body,
    }
}
