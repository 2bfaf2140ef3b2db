//! `folio-bench release`: the copier side of release, measured against a running server.
//! The bench listens as a raw 9100 copier (the device the script added points at it), then:
//! badge session start latency; release request → first document byte at the copier; ten
//! jobs released at once → all ten at the copier. Users and badges are those of
//! `folio-bench directory --write-ldif` (`user00000`…, whose jobs `folio-bench intake` submitted).

use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::directory::badge;

use crate::stats::percentile;

/// Options of `folio-bench release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Folio's address, host:port.
    #[arg(long)]
    pub server: String,
    /// The device token of the benchmark device.
    #[arg(long)]
    pub token: String,
    /// Port to listen on as the device (its URI is socket://127.0.0.1:PORT).
    #[arg(long)]
    pub sink_port: u16,
    /// Users in the directory (user00000…).
    #[arg(long, default_value_t = 10_000)]
    pub users: u32,
    /// Sessions (and single releases) to time.
    #[arg(long, default_value_t = 300)]
    pub samples: u32,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Events from the copier side: the first byte of a connection, and its end.
enum Copier {
    FirstByte(Instant),
    Done(Instant),
}

fn sink(port: u16) -> anyhow::Result<mpsc::Receiver<Copier>> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = true;
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if first {
                        let _ = tx.send(Copier::FirstByte(Instant::now()));
                        first = false;
                    }
                }
                // Connections without bytes are Folio's reachability checks, not jobs.
                if !first {
                    let _ = tx.send(Copier::Done(Instant::now()));
                }
            });
        }
    });
    Ok(rx)
}

struct Terminal {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Terminal {
    fn call(&self, method: &str, path: &str, body: &str) -> anyhow::Result<serde_json::Value> {
        let req = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .set("Content-Type", "application/json");
        let resp = if body.is_empty() {
            req.call()
        } else {
            req.send_string(body)
        };
        match resp {
            Ok(r) if r.status() == 204 => Ok(serde_json::Value::Null),
            Ok(r) => Ok(serde_json::from_str(&r.into_string()?)?),
            Err(ureq::Error::Status(code, r)) => {
                anyhow::bail!(
                    "{method} {path}: HTTP {code} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => Err(e.into()),
        }
    }

    fn start(&self, user: u32) -> anyhow::Result<serde_json::Value> {
        self.call(
            "POST",
            "/api/v1/release/sessions",
            &format!(r#"{{"badge":"{}"}}"#, badge(user)),
        )
    }
}

/// Runs the benchmark and prints a summary.
pub fn run(args: &ReleaseArgs) -> anyhow::Result<()> {
    let copier = sink(args.sink_port)?;
    let t = Terminal {
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build(),
        base: format!("http://{}", args.server),
        auth: format!("Bearer {}", args.token),
    };
    let step = (args.users / args.samples.max(1)).max(1);
    let users: Vec<u32> = (0..args.samples).map(|k| (k * step) % args.users).collect();

    // 1. Badge → session (directory, cache, the holder's jobs, the copier's state).
    let mut starts = Vec::new();
    for &u in &users {
        let t0 = Instant::now();
        let s = t.start(u)?;
        starts.push(t0.elapsed());
        let id = s["session"].as_str().unwrap_or_default();
        t.call("DELETE", &format!("/api/v1/release/sessions/{id}"), "")?;
    }
    starts.sort();
    println!(
        "session start: n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        starts.len(),
        ms(percentile(&starts, 0.5)),
        ms(percentile(&starts, 0.99)),
        ms(*starts.last().unwrap_or(&Duration::ZERO))
    );

    // 2. Release one job → its first byte at the copier.
    let mut first_bytes = Vec::new();
    for &u in &users {
        let s = t.start(u)?;
        let id = s["session"].as_str().unwrap_or_default().to_owned();
        let Some(job) = s["jobs"]
            .as_array()
            .and_then(|j| j.first())
            .and_then(|j| j["id"].as_i64())
        else {
            continue;
        };
        let t0 = Instant::now();
        t.call(
            "POST",
            &format!("/api/v1/release/sessions/{id}/release"),
            &format!(r#"{{"jobs":[{job}]}}"#),
        )?;
        while let Copier::FirstByte(at) = copier.recv_timeout(Duration::from_secs(10))? {
            first_bytes.push(at.duration_since(t0));
        }
        t.call("DELETE", &format!("/api/v1/release/sessions/{id}"), "")?;
    }
    first_bytes.sort();
    println!(
        "release -> first byte at the copier: n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        first_bytes.len(),
        ms(percentile(&first_bytes, 0.5)),
        ms(percentile(&first_bytes, 0.99)),
        ms(*first_bytes.last().unwrap_or(&Duration::ZERO))
    );

    // 3. Ten jobs at once: a user with untouched jobs releases "all".
    let mut tens = Vec::new();
    for k in 0..5u32 {
        let u = (users.last().copied().unwrap_or(0) + 1 + k) % args.users;
        let s = t.start(u)?;
        let id = s["session"].as_str().unwrap_or_default().to_owned();
        let n = s["jobs"].as_array().map(|j| j.len()).unwrap_or(0);
        if n < 10 {
            continue;
        }
        let t0 = Instant::now();
        t.call(
            "POST",
            &format!("/api/v1/release/sessions/{id}/release"),
            r#"{"jobs":"all"}"#,
        )?;
        let mut done = 0;
        let mut last = t0;
        while done < n {
            if let Copier::Done(at) = copier.recv_timeout(Duration::from_secs(30))? {
                done += 1;
                last = at;
            }
        }
        tens.push((n, last.duration_since(t0)));
        t.call("DELETE", &format!("/api/v1/release/sessions/{id}"), "")?;
    }
    for (n, d) in &tens {
        println!(
            "{n} jobs released at once: all at the copier in {:.0} ms",
            ms(*d)
        );
    }
    Ok(())
}
