//! `folio-bench intake`: submits held jobs over IPP with concurrent clients and reports throughput
//! and latency percentiles. A plain HTTP/1.1 keep-alive client on std sockets, so the numbers
//! are the server's, not a client library's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::ipp::{op, tag, RawIpp};

use crate::stats::percentile;

/// Options of `folio-bench intake`.
#[derive(Debug, Clone, clap::Args)]
pub struct IntakeArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:8631")]
    pub server: String,
    /// Jobs to submit in all.
    #[arg(long, default_value_t = 10_000)]
    pub jobs: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: u64,
    /// Pages of the PDF submitted.
    #[arg(long, default_value_t = 1)]
    pub pages: usize,
    /// Distinct users the jobs belong to.
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// The queue's path on the server: Folio's is `/ipp/print`; a CUPS queue is
    /// `/printers/NAME` (the same client measures both in `bench/vs-cups.sh`).
    #[arg(long, default_value = "/ipp/print")]
    pub path: String,
}

/// A Print-Job request for `user` carrying `document`.
pub fn print_job_request(
    server: &str,
    path: &str,
    user: &str,
    request_id: i32,
    document: &[u8],
) -> Vec<u8> {
    RawIpp::new(op::PRINT_JOB)
        .request_id(request_id as u32)
        .operation_prelude(&format!("ipp://{server}{path}"))
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "job-name", "bench")
        .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
        .document(document)
        .build()
}

/// Sends one IPP request on a keep-alive connection; returns the IPP status code.
pub fn post(
    conn: &mut BufReader<TcpStream>,
    server: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let stream = conn.get_mut();
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut resp = vec![0u8; length];
    conn.read_exact(&mut resp)?;
    if resp.len() < 4 {
        return Err(std::io::Error::other("short IPP response"));
    }
    Ok(u16::from_be_bytes([resp[2], resp[3]]))
}

/// Runs the benchmark and prints a summary.
pub fn run(args: &IntakeArgs) -> anyhow::Result<()> {
    let pdf = Arc::new(testkit::sample_pdf(args.pages));
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.clients {
        let (pdf, next, failures, args) =
            (pdf.clone(), next.clone(), failures.clone(), args.clone());
        handles.push(std::thread::spawn(
            move || -> anyhow::Result<Vec<Duration>> {
                let mut conn = BufReader::new(TcpStream::connect(&args.server)?);
                conn.get_ref().set_nodelay(true)?;
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= args.jobs {
                        return Ok(latencies);
                    }
                    let user = format!("user{:05}", n % args.users.max(1));
                    let body = print_job_request(
                        &args.server,
                        &args.path,
                        &user,
                        (n % i32::MAX as u64) as i32 + 1,
                        &pdf,
                    );
                    let t = Instant::now();
                    match post(&mut conn, &args.server, &args.path, &body) {
                        Ok(0) => latencies.push(t.elapsed()),
                        Ok(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            conn = BufReader::new(TcpStream::connect(&args.server)?);
                        }
                    }
                }
            },
        ));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??,
        );
    }
    let elapsed = start.elapsed();
    all.sort();
    println!(
        "jobs={} clients={} pages={} ok={} failed={} elapsed={:.2}s rate={:.0} jobs/s p50={:.2}ms p99={:.2}ms max={:.2}ms",
        args.jobs,
        args.clients,
        args.pages,
        all.len(),
        failures.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    Ok(())
}
