//! One FTP control connection: the commands a copier's scan-to-FTP uses (RFC 959, FTPS as
//! RFC 4217, EPSV as RFC 2428), answered as a drop box. What a site requiring TLS insists on,
//! in order: `AUTH TLS` before the login, `PROT P` before any data connection; `PROT C` is
//! refused, and so is every data command (PASV, EPSV, STOR, LIST…) without `PROT P`. Active
//! mode (PORT, EPRT: Folio connecting out to an address the client names) is not offered.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::data::{self, NoData, Passive, Stream, HANDSHAKE_TIMEOUT};
use super::{Shared, Transfer};
use crate::capture::ftp::FtpUser;

/// Longest command line accepted.
const MAX_LINE: u64 = 2048;
/// Wrong logins on one connection before it is closed.
const MAX_FAILED_LOGINS: u32 = 3;

/// What the session knows.
struct State {
    peer: SocketAddr,
    local: SocketAddr,
    tls: bool,
    protected: bool,
    user_name: Option<String>,
    user: Option<FtpUser>,
    failed_logins: u32,
    cwd: String,
    passive: Option<Passive>,
}

/// A control connection, plain or TLS.
struct Control {
    io: BufReader<Pin<Box<dyn Stream>>>,
}

impl Control {
    async fn reply(&mut self, code: u16, text: &str) -> std::io::Result<()> {
        let line = format!("{code} {}\r\n", text.replace(['\r', '\n'], " "));
        self.io.get_mut().write_all(line.as_bytes()).await?;
        self.io.get_mut().flush().await
    }

    async fn multiline(&mut self, code: u16, lines: &[&str]) -> std::io::Result<()> {
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            if i == 0 || i + 1 == lines.len() {
                text.push_str(&format!("{code}{sep}{l}\r\n"));
            } else {
                text.push_str(&format!(" {l}\r\n"));
            }
        }
        self.io.get_mut().write_all(text.as_bytes()).await?;
        self.io.get_mut().flush().await
    }

    /// The next command line, or `None` when the client went away, was silent for `idle` or
    /// sent a line longer than [`MAX_LINE`].
    async fn command(&mut self, idle: Duration) -> Option<(String, String)> {
        let mut raw = Vec::new();
        let mut limited = (&mut self.io).take(MAX_LINE);
        let read = limited.read_until(b'\n', &mut raw);
        match tokio::time::timeout(idle, read).await {
            Ok(Ok(n)) if n > 0 && raw.ends_with(b"\n") => {}
            _ => return None,
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        Some((verb.to_ascii_uppercase(), arg.to_owned()))
    }
}

/// Serves one control connection until QUIT, silence or a broken pipe.
pub async fn serve(shared: &Shared, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut control = Control {
        io: BufReader::new(Box::pin(stream)),
    };
    let mut state = State {
        peer,
        local,
        tls: false,
        protected: false,
        user_name: None,
        user: None,
        failed_logins: 0,
        cwd: "/".into(),
        passive: None,
    };
    if control.reply(220, "Folio scan service").await.is_err() {
        return;
    }
    let idle = shared.idle;
    while let Some((verb, arg)) = control.command(idle).await {
        match step(shared, &mut control, &mut state, &verb, &arg).await {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
}

/// Whether the session may carry on with data: `PROT P` where TLS is required.
fn data_allowed(shared: &Shared, state: &State) -> bool {
    !shared.require_tls || state.protected
}

/// Runs one command; `Ok(false)` ends the session.
async fn step(
    shared: &Shared,
    control: &mut Control,
    state: &mut State,
    verb: &str,
    arg: &str,
) -> std::io::Result<bool> {
    let logged_in = state.user.is_some();
    match verb {
        "QUIT" => {
            control.reply(221, "Goodbye").await?;
            return Ok(false);
        }
        "NOOP" => control.reply(200, "OK").await?,
        "SYST" => control.reply(215, "UNIX Type: L8").await?,
        "FEAT" => {
            let mut lines = vec!["Features:"];
            if shared.tls.is_some() {
                lines.extend(["AUTH TLS", "PBSZ", "PROT"]);
            }
            lines.extend(["EPSV", "PASV", "UTF8", "End"]);
            control.multiline(211, &lines).await?;
        }
        "OPTS" => control.reply(200, "OK").await?,
        "HELP" => {
            control
                .reply(214, "Folio scan service: STOR your scans here")
                .await?
        }
        "AUTH" => match (&shared.tls, arg.trim().to_ascii_uppercase().as_str()) {
            (Some(acceptor), "TLS" | "SSL" | "TLS-C") if !state.tls => {
                control.reply(234, "AUTH TLS OK").await?;
                // Nothing the client sent after AUTH may be read as TLS: none is buffered.
                if !control.io.buffer().is_empty() {
                    return Ok(false);
                }
                let placeholder: Pin<Box<dyn Stream>> =
                    Box::pin(tokio::io::join(tokio::io::empty(), tokio::io::sink()));
                let plain =
                    std::mem::replace(&mut control.io, BufReader::new(placeholder)).into_inner();
                let upgraded =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(plain)).await;
                match upgraded {
                    Ok(Ok(tls)) => {
                        control.io = BufReader::new(Box::pin(tls));
                        state.tls = true;
                    }
                    _ => return Ok(false),
                }
            }
            (Some(_), _) if state.tls => control.reply(503, "TLS is already on").await?,
            (Some(_), _) => control.reply(504, "AUTH TLS only").await?,
            (None, _) => control.reply(502, "TLS is not configured here").await?,
        },
        "PBSZ" if state.tls => control.reply(200, "PBSZ=0").await?,
        "PROT" if state.tls => match arg.trim().to_ascii_uppercase().as_str() {
            "P" => {
                state.protected = true;
                control
                    .reply(200, "Data connections will be protected")
                    .await?;
            }
            "C" if shared.require_tls => {
                control
                    .reply(534, "Data connections must be protected here (PROT P)")
                    .await?
            }
            "C" => {
                state.protected = false;
                control.reply(200, "Data connections in clear").await?;
            }
            _ => control.reply(504, "PROT P or C").await?,
        },
        "PBSZ" | "PROT" => control.reply(503, "AUTH TLS first").await?,
        "USER" => {
            if shared.require_tls && !state.tls {
                control
                    .reply(530, "TLS is required here: AUTH TLS first")
                    .await?;
                return Ok(true);
            }
            state.user_name = Some(arg.trim().to_owned());
            state.user = None;
            control.reply(331, "Password required").await?;
        }
        "PASS" => {
            let Some(name) = state.user_name.clone() else {
                control.reply(503, "USER first").await?;
                return Ok(true);
            };
            match shared.logins.check(&name, arg, state.peer.ip()).await {
                Some(user) => {
                    state.user = Some(user);
                    control.reply(230, "Logged in: send your scans").await?;
                }
                None => {
                    state.failed_logins += 1;
                    control.reply(530, "Login incorrect").await?;
                    if state.failed_logins >= MAX_FAILED_LOGINS {
                        return Ok(false);
                    }
                }
            }
        }
        _ if !logged_in => control.reply(530, "Log in first").await?,
        "PWD" | "XPWD" => {
            let text = format!("\"{}\" is the current directory", state.cwd);
            control.reply(257, &text).await?
        }
        "CWD" | "XCWD" => {
            state.cwd = join(&state.cwd, arg);
            control.reply(250, "OK").await?
        }
        "CDUP" | "XCUP" => {
            state.cwd = join(&state.cwd, "..");
            control.reply(250, "OK").await?
        }
        "MKD" | "XMKD" => {
            let text = format!("\"{}\" created", join(&state.cwd, arg));
            control.reply(257, &text).await?
        }
        "TYPE" | "MODE" | "STRU" => control.reply(200, "OK").await?,
        "ALLO" => control.reply(202, "No storage allocation needed").await?,
        "REST" if arg.trim() == "0" => control.reply(350, "Restarting at 0").await?,
        "REST" => control.reply(504, "Only whole scans are taken").await?,
        "RNFR" => control.reply(350, "Ready for the new name").await?,
        // Copiers that upload under a temporary name then rename: the scan was taken whole
        // at the upload; the rename has nothing left to do.
        "RNTO" => control.reply(250, "OK").await?,
        "RETR" | "SIZE" | "MDTM" => control.reply(550, "Nothing can be read back here").await?,
        "DELE" | "RMD" | "XRMD" => {
            control
                .reply(550, "A scan taken is in the archive's hands")
                .await?
        }
        "STAT" => control.reply(211, "Folio scan service").await?,
        "ABOR" => {
            state.passive = None;
            control.reply(226, "Nothing to abort").await?
        }
        "PORT" | "EPRT" => {
            control
                .reply(
                    502,
                    "Active mode is not offered: use passive mode (PASV/EPSV)",
                )
                .await?
        }
        "PASV" | "EPSV" if !data_allowed(shared, state) => {
            control
                .reply(521, "Data connections must be protected here: PROT P first")
                .await?
        }
        "EPSV" if arg.trim().eq_ignore_ascii_case("ALL") => {
            control.reply(200, "EPSV ALL ok").await?
        }
        "PASV" => {
            let IpAddr::V4(ip) = state.local.ip() else {
                control.reply(522, "PASV needs IPv4: use EPSV").await?;
                return Ok(true);
            };
            if let Some(port) = passive(shared, control, state).await? {
                let o = ip.octets();
                let text = format!(
                    "Entering Passive Mode ({},{},{},{},{},{})",
                    o[0],
                    o[1],
                    o[2],
                    o[3],
                    port >> 8,
                    port & 0xFF
                );
                control.reply(227, &text).await?
            }
        }
        "EPSV" => {
            if let Some(port) = passive(shared, control, state).await? {
                let text = format!("Entering Extended Passive Mode (|||{port}|)");
                control.reply(229, &text).await?
            }
        }
        "LIST" | "NLST" | "MLSD" | "STOR" | "STOU" | "APPE" => {
            return transfer(shared, control, state, verb, arg).await;
        }
        _ => control.reply(502, "Not offered here").await?,
    }
    Ok(true)
}

/// Opens the passive port of the next transfer; its number, or `None` once the client was
/// told there is none free.
async fn passive(
    shared: &Shared,
    control: &mut Control,
    state: &mut State,
) -> std::io::Result<Option<u16>> {
    match data::open(state.local.ip(), shared.ports.0, shared.ports.1) {
        Ok(p) => {
            let port = p.port;
            state.passive = Some(p);
            Ok(Some(port))
        }
        Err(e) => {
            tracing::warn!(error = %e, "FTP: no passive port");
            control
                .reply(425, "No data port free now: try again")
                .await?;
            Ok(None)
        }
    }
}

/// A data command: listings (always empty: nothing stays here) and uploads.
async fn transfer(
    shared: &Shared,
    control: &mut Control,
    state: &mut State,
    verb: &str,
    arg: &str,
) -> std::io::Result<bool> {
    if !data_allowed(shared, state) {
        control
            .reply(521, "Data connections must be protected here: PROT P first")
            .await?;
        return Ok(true);
    }
    let Some(passive) = state.passive.take() else {
        control.reply(425, "Use PASV or EPSV first").await?;
        return Ok(true);
    };
    let name = match verb {
        "STOU" => format!("scan-{}.pdf", uuid::Uuid::new_v4().simple()),
        _ => file_name(arg),
    };
    if matches!(verb, "STOR" | "STOU" | "APPE") && name.is_empty() {
        control.reply(553, "A file name is needed").await?;
        return Ok(true);
    }
    control.reply(150, "Opening the data connection").await?;
    let tls = state.protected.then_some(()).and(shared.tls.as_ref());
    let peer = state.peer.ip();
    let (mut stream, strangers) = match passive.accept(peer, tls).await {
        Ok(s) => s,
        Err(NoData::Timeout(strangers)) => {
            shared.logins.stranger(peer, &strangers).await;
            control.reply(425, "No data connection came").await?;
            return Ok(true);
        }
        Err(NoData::Failed(why)) => {
            tracing::info!(error = %why, "FTP data connection failed");
            control.reply(425, "The data connection failed").await?;
            return Ok(true);
        }
    };
    shared.logins.stranger(peer, &strangers).await;
    if matches!(verb, "LIST" | "NLST" | "MLSD") {
        let _ = stream.shutdown().await;
        control
            .reply(226, "Nothing here: scans are taken away")
            .await?;
        return Ok(true);
    }
    let Some(user) = state.user.clone() else {
        return Ok(false);
    };
    let outcome = shared.receive(&user, &mut stream, name).await;
    let _ = stream.shutdown().await;
    match outcome {
        Transfer::Taken(n) => {
            control
                .reply(226, &format!("Scan taken ({n} bytes), safe in Folio"))
                .await?
        }
        Transfer::Full(why) => control.reply(452, &why).await?,
        Transfer::Failed(why) => control.reply(451, &why).await?,
        Transfer::Refused(why) => control.reply(550, &why).await?,
        Transfer::Broken(why) => control.reply(426, &why).await?,
    }
    Ok(true)
}

/// The last component of a path as a file name (folders are the copier's business).
fn file_name(arg: &str) -> String {
    arg.trim()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect()
}

/// `cwd` joined with `arg`, normalised (never above `/`).
fn join(cwd: &str, arg: &str) -> String {
    let start = if arg.starts_with('/') { "" } else { cwd };
    let mut parts: Vec<&str> = Vec::new();
    for p in start.split('/').chain(arg.split('/')) {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut path: String = parts
        .iter()
        .map(|p| format!("/{p}"))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(512)
        .collect();
    if path.is_empty() {
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_drop_box() {
        assert_eq!(join("/", "scans"), "/scans");
        assert_eq!(join("/scans", "../../etc"), "/etc");
        assert_eq!(join("/scans", ".."), "/");
        assert_eq!(join("/a", "/b/./c"), "/b/c");
        assert_eq!(file_name("/scans/2026/scan-0001.pdf"), "scan-0001.pdf");
        assert_eq!(file_name("..\\x.pdf"), "x.pdf");
        assert_eq!(file_name("dir/"), "");
    }
}
