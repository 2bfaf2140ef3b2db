//! The worker's side: confine itself, then read jobs from stdin and answer on stdout, one at a
//! time, until the server closes the pipe. A job that panics is answered (refused) and the
//! worker retires; one that runs out of memory, processor time or stack ends the process, and
//! the server tells why from how it ended.

use std::io::{self, BufReader, BufWriter};

use super::confine::{self, Confinement};
use super::frame::{self, Reply, Request};

/// A job a worker knows: parameters and the document in, an answer and bytes out. `Err` is the
/// reader's own words on why the document is refused.
pub type Handler = fn(serde_json::Value, Vec<u8>) -> Result<(serde_json::Value, Vec<u8>), String>;

/// The jobs of one room, by name.
pub type Jobs = &'static [(&'static str, Handler)];

/// The file descriptors the worker held when it started (its pipes only, if the server
/// leaked nothing to it), for the self-test.
static STARTED_WITH: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Serves jobs until stdin closes; returns the process's exit code.
pub fn serve(rooms: &[Jobs], confinement: Confinement) -> i32 {
    // Nothing may write to stderr but the runtime's last words (out of memory, stack
    // overflow): panics are answered to the server instead, without the document's content.
    std::panic::set_hook(Box::new(|_| {}));
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|target| target.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let _ = STARTED_WITH.set(fds);
    if let Err(e) = confine::confine(confinement) {
        eprintln!("folio sandbox worker: {e}");
        return 2;
    }
    let mut input = BufReader::with_capacity(256 * 1024, io::stdin().lock());
    let mut output = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    loop {
        let (request, payload): (Request, Vec<u8>) = match frame::read(&mut input) {
            Ok(Some(r)) => r,
            Ok(None) => return 0,
            Err(_) => return 3,
        };
        confine::cpu_budget(request.cpu_secs);
        let handler = rooms
            .iter()
            .flat_map(|jobs| jobs.iter())
            .find(|(name, _)| *name == request.job)
            .map(|(_, h)| *h);
        let (result, bytes, retire) = match handler {
            None => (
                Err(format!("unknown job {}", request.job)),
                Vec::new(),
                false,
            ),
            Some(h) => match std::panic::catch_unwind(move || h(request.params, payload)) {
                Ok(Ok((answer, bytes))) => (Ok(answer), bytes, false),
                Ok(Err(reason)) => (Err(reason), Vec::new(), false),
                Err(_) => (
                    Err("the document made its reader fail".to_owned()),
                    Vec::new(),
                    true,
                ),
            },
        };
        if frame::write(&mut output, &Reply { result, retire }, &bytes).is_err() {
            return 3;
        }
        if retire {
            return 0;
        }
    }
}

/// A job for the tests of the sandbox itself: what a confined worker can and cannot do, and
/// ways to make it overrun (`"mode"`: `probe`, `memory`, `spin`, `stack`, `panic`, `echo`).
pub fn selftest(
    params: serde_json::Value,
    payload: Vec<u8>,
) -> Result<(serde_json::Value, Vec<u8>), String> {
    match params["mode"].as_str().unwrap_or("") {
        "echo" => Ok((serde_json::json!({ "len": payload.len() }), payload)),
        "probe" => {
            let network = std::net::TcpStream::connect("127.0.0.1:9").map_err(|e| e.to_string());
            let file = std::fs::File::open("/etc/hostname").map_err(|e| e.to_string());
            let write =
                std::fs::File::create("/tmp/folio-sandbox-probe").map_err(|e| e.to_string());
            let program = std::process::Command::new("/bin/true")
                .status()
                .map_err(|e| e.to_string());
            Ok((
                serde_json::json!({
                    "network": network.err(),
                    "read_file": file.err(),
                    "write_file": write.err(),
                    "run_program": program.err(),
                    "core": rustix::process::getrlimit(rustix::process::Resource::Core).current,
                    "descriptors": STARTED_WITH.get(),
                }),
                Vec::new(),
            ))
        }
        "memory" => {
            let mb = params["mb"].as_u64().unwrap_or(4096) as usize;
            let mut v: Vec<u8> = Vec::new();
            v.resize(mb * 1024 * 1024, 1);
            Ok((
                serde_json::json!({ "sum": v.iter().step_by(4096).count() }),
                Vec::new(),
            ))
        }
        "spin" => {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "stack" => {
            fn deeper(n: u64) -> u64 {
                if n == u64::MAX {
                    return 0;
                }
                let pad = std::hint::black_box([n; 64]);
                deeper(n + 1) + pad[3]
            }
            Ok((serde_json::json!(deeper(0)), Vec::new()))
        }
        "panic" => panic!("a reader failed"),
        other => Err(format!("unknown self-test {other}")),
    }
}

/// The sandbox's own jobs.
pub const JOBS: Jobs = &[("sandbox.selftest", selftest)];
