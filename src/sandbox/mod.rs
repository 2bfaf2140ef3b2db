//! Untrusted documents are read in worker processes, never in the server.
//!
//! Every document a client or a copier sends (a print job's PDF, a scanned batch) is parsed by
//! code that a hostile file can drive into an endless loop, a huge allocation, a stack overflow
//! or a panic. The server hands such work to a pool of long-lived `folio sandbox-worker`
//! processes ([`worker`]), each confined ([`confine`]): a memory limit, a processor-time budget
//! per job, no core files, and no system calls but those that reading a pipe and computing need
//! (no network, no files, no programs). When a worker dies or overruns, only that document
//! fails, with a reason in words ([`SandboxError::Overran`]); the server goes on and starts a
//! new worker. A wall-clock watchdog kills a worker that stops answering.
//!
//! Jobs are named functions of the rooms that own the formats (`document::JOBS`,
//! `archive::JOBS`): this room knows how to run them apart, not what they do.

mod confine;
mod frame;
pub mod worker;

use std::io::{BufReader, BufWriter, Read};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use confine::Confinement;

use crate::metrics::METRICS;

/// The subcommand that runs a worker (hidden from `folio --help`).
pub const WORKER_COMMAND: &str = "sandbox-worker";

/// `[sandbox]`: how untrusted documents are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// Worker processes for print jobs (0 = one per processor, at least 2).
    pub print_workers: usize,
    /// Worker processes for scans (0 = half the processors, at least 1).
    pub scan_workers: usize,
    /// Memory one worker may use, in MB: a document needing more is refused (print) or
    /// quarantined (scan).
    pub memory_mb: u64,
    /// Processor seconds one print job's analysis may take.
    pub print_cpu_secs: u64,
    /// Processor seconds one scan step (validation, split, rendition) may take.
    pub scan_cpu_secs: u64,
    /// Jobs a worker runs before it is replaced (keeps memory fragmentation bounded).
    pub jobs_per_worker: u32,
    /// Filter workers' system calls (seccomp). Turn off only on a kernel without seccomp.
    pub syscall_filter: bool,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            print_workers: 0,
            scan_workers: 0,
            memory_mb: 1024,
            print_cpu_secs: 20,
            scan_cpu_secs: 300,
            jobs_per_worker: 500,
            syscall_filter: true,
        }
    }
}

/// Which pool: print jobs and scans have their own, so a flood of scans never delays printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Print,
    Scan,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Print => "print",
            Lane::Scan => "scan",
        }
    }
}

/// How a worker overran on a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overrun {
    /// It needed more than the memory limit (MB).
    Memory(u64),
    /// It used more than its processor-time budget (seconds).
    Cpu(u64),
    /// It did not answer within the wall-clock deadline (seconds).
    Time(u64),
    /// Its structure is nested too deeply (the stack overflowed).
    Stack,
    /// It crashed otherwise (how the process ended).
    Crashed(String),
}

impl std::fmt::Display for Overrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overrun::Memory(mb) => write!(f, "reading it needs more than {mb} MB of memory"),
            Overrun::Cpu(secs) => {
                write!(f, "reading it takes more than {secs} s of processor time")
            }
            Overrun::Time(secs) => write!(f, "reading it did not end within {secs} s"),
            Overrun::Stack => f.write_str("its structure is nested too deeply to read"),
            Overrun::Crashed(how) => write!(f, "it made its reader crash ({how})"),
        }
    }
}

/// Why a job did not give an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// The reader refused the document, in its own words.
    #[error("{0}")]
    Refused(String),
    /// The document made its worker overrun a limit or crash: the document's fault.
    #[error("{0}")]
    Overran(Overrun),
    /// No worker could run it (cannot start one, or the answer was garbled): not the
    /// document's fault, try again later.
    #[error("the document reader is unavailable: {0}")]
    Unavailable(String),
}

/// A pool of workers for one lane. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    lane: Lane,
    program: std::path::PathBuf,
    confinement: Confinement,
    cpu_secs: u64,
    jobs_per_worker: u32,
    size: usize,
    /// Idle workers, and how many exist (idle or busy).
    state: Mutex<PoolState>,
    freed: Condvar,
    watchdog: Watchdog,
}

struct PoolState {
    idle: Vec<Worker>,
    live: usize,
}

struct Worker {
    child: Arc<Mutex<Child>>,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    stderr: ChildStderr,
    jobs: u32,
}

impl Sandbox {
    /// A pool for `lane` with `settings`; workers start on first use (one at once).
    pub fn start(lane: Lane, settings: &SandboxSettings) -> Sandbox {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (size, cpu_secs) = match lane {
            Lane::Print => (
                if settings.print_workers == 0 {
                    cpus.max(2)
                } else {
                    settings.print_workers
                },
                settings.print_cpu_secs,
            ),
            Lane::Scan => (
                if settings.scan_workers == 0 {
                    (cpus / 2).max(1)
                } else {
                    settings.scan_workers
                },
                settings.scan_cpu_secs,
            ),
        };
        let sandbox = Sandbox {
            inner: Arc::new(Inner {
                lane,
                // The running binary, even when a package upgrade replaced the file.
                program: "/proc/self/exe".into(),
                confinement: Confinement {
                    memory_mb: settings.memory_mb,
                    syscall_filter: settings.syscall_filter,
                },
                cpu_secs: cpu_secs.max(1),
                jobs_per_worker: settings.jobs_per_worker.max(1),
                size: size.max(1),
                state: Mutex::new(PoolState {
                    idle: Vec::new(),
                    live: 0,
                }),
                freed: Condvar::new(),
                watchdog: Watchdog::start(),
            }),
        };
        // One worker ready before the first document, so the first job is as fast as the rest.
        if let Ok(w) = sandbox.inner.spawn() {
            let mut state = sandbox.inner.lock();
            state.live += 1;
            state.idle.push(w);
        }
        sandbox
    }

    /// Checks that a worker starts and confines itself; the error says why not.
    pub fn check(&self) -> Result<(), String> {
        let (answer, _): (serde_json::Value, _) = self
            .call(
                "sandbox.selftest",
                &serde_json::json!({ "mode": "echo" }),
                b"ok",
            )
            .map_err(|e| e.to_string())?;
        match answer["len"].as_u64() {
            Some(2) => Ok(()),
            _ => Err("a worker answered wrongly".into()),
        }
    }

    /// Runs `job` on `payload` in a worker, blocking this thread (call it from a blocking
    /// context). Returns the job's answer and bytes.
    pub fn call<P: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        job: &str,
        params: &P,
        payload: &[u8],
    ) -> Result<(R, Vec<u8>), SandboxError> {
        let started = Instant::now();
        let result = self.inner.call(job, params, payload);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SandboxError::Refused(_)) => "refused",
            Err(SandboxError::Overran(_)) => "overran",
            Err(SandboxError::Unavailable(_)) => "unavailable",
        };
        METRICS
            .sandbox_jobs
            .with_label_values(&[self.inner.lane.name(), job, outcome])
            .inc();
        METRICS
            .sandbox_duration
            .with_label_values(&[self.inner.lane.name()])
            .observe(started.elapsed().as_secs_f64());
        if let Err(SandboxError::Overran(why)) = &result {
            tracing::warn!(lane = self.inner.lane.name(), job, reason = %why, "a document overran its reader; the server goes on");
        }
        let (answer, bytes) = result?;
        let answer = serde_json::from_value(answer)
            .map_err(|e| SandboxError::Unavailable(format!("unexpected answer: {e}")))?;
        Ok((answer, bytes))
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self) -> Result<Worker, SandboxError> {
        let c = self.confinement;
        let mut child = Command::new(&self.program)
            .arg(WORKER_COMMAND)
            .arg("--memory-mb")
            .arg(c.memory_mb.to_string())
            .arg(if c.syscall_filter {
                "--syscall-filter=on"
            } else {
                "--syscall-filter=off"
            })
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("cannot start a worker: {e}")))?;
        let (Some(input), Some(output), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SandboxError::Unavailable("a worker has no pipes".into()));
        };
        METRICS
            .sandbox_workers_started
            .with_label_values(&[self.lane.name()])
            .inc();
        Ok(Worker {
            child: Arc::new(Mutex::new(child)),
            input: BufWriter::with_capacity(256 * 1024, input),
            output: BufReader::with_capacity(256 * 1024, output),
            stderr,
            jobs: 0,
        })
    }

    /// An idle worker, a new one, or the first freed when all are busy.
    fn take(&self) -> Result<Worker, SandboxError> {
        let mut state = self.lock();
        loop {
            if let Some(w) = state.idle.pop() {
                return Ok(w);
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return self.spawn().inspect_err(|_| {
                    self.lock().live -= 1;
                    self.freed.notify_one();
                });
            }
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, worker: Option<Worker>) {
        let mut state = self.lock();
        match worker {
            Some(w) if w.jobs < self.jobs_per_worker => state.idle.push(w),
            Some(w) => {
                state.live -= 1;
                drop(state);
                retire(w);
            }
            None => state.live -= 1,
        }
        self.freed.notify_one();
    }

    fn call<P: Serialize>(
        &self,
        job: &str,
        params: &P,
        payload: &[u8],
    ) -> Result<(serde_json::Value, Vec<u8>), SandboxError> {
        let params = serde_json::to_value(params)
            .map_err(|e| SandboxError::Unavailable(format!("parameters: {e}")))?;
        let request = frame::Request {
            job: job.to_owned(),
            cpu_secs: self.cpu_secs,
            params,
        };
        let mut worker = self.take()?;
        worker.jobs += 1;
        // Past the processor budget the kernel ends the worker; this is for a worker that
        // stops without using the processor (or a machine too loaded to give it any).
        let wall = Duration::from_secs(self.cpu_secs * 2 + 10);
        let alarm = self
            .watchdog
            .arm(worker.child.clone(), Instant::now() + wall);
        let exchanged = frame::write(&mut worker.input, &request, payload)
            .and_then(|()| frame::read::<frame::Reply>(&mut worker.output));
        let fired = alarm.disarm();
        match exchanged {
            Ok(Some((reply, bytes))) => {
                if reply.retire {
                    // Its reader panicked: it exits after this answer.
                    self.give_back(None);
                    retire(worker);
                } else {
                    self.give_back(Some(worker));
                }
                reply
                    .result
                    .map(|v| (v, bytes))
                    .map_err(SandboxError::Refused)
            }
            // The worker died or the pipe broke: find out how it ended.
            Ok(None) | Err(_) => {
                let why = self.ended(worker, fired, wall);
                self.give_back(None);
                Err(why)
            }
        }
    }

    /// Reaps a worker that stopped mid-job and tells why.
    fn ended(&self, worker: Worker, killed_by_watchdog: bool, wall: Duration) -> SandboxError {
        let Worker {
            child,
            input,
            mut stderr,
            ..
        } = worker;
        drop(input);
        let (status, killed_here) = {
            let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
            // Its pipe closed: it is exiting. One that still runs after a moment is of no use
            // either (it answered garbage): ended here, which says nothing of the document.
            let mut exited = None;
            for _ in 0..50 {
                if let Ok(Some(s)) = child.try_wait() {
                    exited = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            match exited {
                Some(s) => (Ok(s), false),
                None => {
                    let _ = child.kill();
                    (child.wait(), true)
                }
            }
        };
        let mut last_words = Vec::new();
        let _ = (&mut stderr).take(4096).read_to_end(&mut last_words);
        let last_words = String::from_utf8_lossy(&last_words);
        let overrun = match status {
            Ok(_) if killed_here && !killed_by_watchdog => {
                return SandboxError::Unavailable("a worker stopped answering properly".into())
            }
            Ok(status) => self.classify(status, &last_words, killed_by_watchdog, wall),
            Err(e) => Overrun::Crashed(format!("cannot tell: {e}")),
        };
        METRICS
            .sandbox_worker_deaths
            .with_label_values(&[self.lane.name(), overrun_kind(&overrun)])
            .inc();
        match overrun {
            // A worker that could not even confine itself is the machine's problem.
            Overrun::Crashed(how) if how.starts_with("exit code 2") => SandboxError::Unavailable(
                format!("a worker could not start: {}", last_words.trim()),
            ),
            o => SandboxError::Overran(o),
        }
    }

    fn classify(
        &self,
        status: ExitStatus,
        last_words: &str,
        watchdog: bool,
        wall: Duration,
    ) -> Overrun {
        use std::os::unix::process::ExitStatusExt;
        if watchdog {
            return Overrun::Time(wall.as_secs());
        }
        if last_words.contains("memory allocation of") {
            return Overrun::Memory(self.confinement.memory_mb);
        }
        if last_words.contains("has overflowed its stack") {
            return Overrun::Stack;
        }
        match status.signal() {
            Some(s) if s == libc::SIGXCPU => Overrun::Cpu(self.cpu_secs),
            // The hard processor limit, or the kernel's out-of-memory killer.
            Some(s) if s == libc::SIGKILL => Overrun::Memory(self.confinement.memory_mb),
            Some(s) => Overrun::Crashed(format!("signal {s}")),
            None => Overrun::Crashed(format!("exit code {}", status.code().unwrap_or(-1))),
        }
    }
}

fn overrun_kind(o: &Overrun) -> &'static str {
    match o {
        Overrun::Memory(_) => "memory",
        Overrun::Cpu(_) => "cpu",
        Overrun::Time(_) => "time",
        Overrun::Stack => "stack",
        Overrun::Crashed(_) => "crashed",
    }
}

/// Ends a worker that did its share: closing its stdin makes it exit.
fn retire(worker: Worker) {
    let Worker { child, input, .. } = worker;
    drop(input);
    std::thread::spawn(move || {
        let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.wait();
    });
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in std::mem::take(&mut self.lock().idle) {
            retire(w);
        }
    }
}

/// Kills workers that stay past their deadline. One thread per pool.
#[derive(Clone)]
struct Watchdog {
    inner: Arc<(Mutex<WatchState>, Condvar)>,
}

#[derive(Default)]
struct WatchState {
    next_id: u64,
    armed: Vec<(u64, Instant, Arc<Mutex<Child>>)>,
    fired: Vec<u64>,
}

struct Alarm {
    watchdog: Watchdog,
    id: u64,
}

impl Watchdog {
    fn start() -> Watchdog {
        let w = Watchdog {
            inner: Arc::new((Mutex::new(WatchState::default()), Condvar::new())),
        };
        let weak = Arc::downgrade(&w.inner);
        std::thread::Builder::new()
            .name("sandbox-watchdog".into())
            .spawn(move || loop {
                let Some(inner) = weak.upgrade() else { return };
                let (lock, cv) = &*inner;
                let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let mut overdue = Vec::new();
                state.armed.retain(|(id, deadline, child)| {
                    if *deadline <= now {
                        overdue.push((*id, child.clone()));
                        false
                    } else {
                        true
                    }
                });
                for (id, child) in overdue {
                    state.fired.push(id);
                    // The worker's own thread holds no lock on its child while it waits on the pipe.
                    if let Ok(mut c) = child.lock() {
                        let _ = c.kill();
                    }
                }
                let wait = state
                    .armed
                    .iter()
                    .map(|(_, d, _)| d.saturating_duration_since(now))
                    .min()
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(1));
                drop(cv.wait_timeout(state, wait));
            })
            .ok();
        w
    }

    fn arm(&self, child: Arc<Mutex<Child>>, deadline: Instant) -> Alarm {
        let (lock, cv) = &*self.inner;
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        state.next_id += 1;
        let id = state.next_id;
        state.armed.push((id, deadline, child));
        cv.notify_one();
        Alarm {
            watchdog: self.clone(),
            id,
        }
    }
}

impl Alarm {
    /// Disarms; true when the watchdog had already killed the worker.
    fn disarm(self) -> bool {
        let (lock, _) = &*self.watchdog.inner;
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        state.armed.retain(|(id, _, _)| *id != self.id);
        let fired = state.fired.contains(&self.id);
        state.fired.retain(|id| *id != self.id);
        fired
    }
}
