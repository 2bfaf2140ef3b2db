//! What a worker gives up before it reads its first document: memory and stack beyond their
//! limits, core files (they would hold patient pages), files it could write, being traced, and
//! every system call but the few that reading from a pipe, computing and answering need (no
//! network, no files, no programs). A worker that cannot confine itself does not serve.

use std::collections::BTreeMap;

use rustix::process::{Resource, Rlimit};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The system calls a worker may make once confined, each with the conditions on its
/// arguments (none: any). Everything else fails with EPERM.
///
/// Reading, writing and `ioctl` are for its three pipes only (descriptors 0 to 2), and memory
/// maps are anonymous only: any other descriptor a worker might have inherited (whatever the
/// server itself inherited and did not mark close-on-exec) is of no use to it.
fn allowed_syscalls() -> Result<Vec<(i64, Vec<SeccompRule>)>, String> {
    let own_pipes = || -> Result<Vec<SeccompRule>, String> {
        let fd = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Le, 2)
            .map_err(|e| e.to_string())?;
        Ok(vec![SeccompRule::new(vec![fd]).map_err(|e| e.to_string())?])
    };
    let anonymous = SeccompCondition::new(
        3,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(libc::MAP_ANONYMOUS as u64),
        libc::MAP_ANONYMOUS as u64,
    )
    .map_err(|e| e.to_string())?;
    let mut calls = vec![
        // Its pipes.
        (libc::SYS_read, own_pipes()?),
        (libc::SYS_write, own_pipes()?),
        (libc::SYS_readv, own_pipes()?),
        (libc::SYS_writev, own_pipes()?),
        (libc::SYS_ioctl, own_pipes()?),
        (libc::SYS_lseek, own_pipes()?),
        (libc::SYS_close, Vec::new()),
        (libc::SYS_fstat, Vec::new()),
        (libc::SYS_newfstatat, Vec::new()),
        (libc::SYS_statx, Vec::new()),
        (libc::SYS_fcntl, Vec::new()),
        (libc::SYS_ppoll, Vec::new()),
        // Memory.
        (
            libc::SYS_mmap,
            vec![SeccompRule::new(vec![anonymous]).map_err(|e| e.to_string())?],
        ),
        (libc::SYS_munmap, Vec::new()),
        (libc::SYS_mremap, Vec::new()),
        (libc::SYS_mprotect, Vec::new()),
        (libc::SYS_madvise, Vec::new()),
        (libc::SYS_brk, Vec::new()),
    ];
    let unconditional = [
        // Threads, locks, time, randomness (hash map seeds).
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_clone,
        libc::SYS_clone3,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_getppid,
        libc::SYS_clock_gettime,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_getrandom,
        // Signals (a stack overflow is reported, then the worker aborts).
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_tgkill,
        // Its processor-time budget, set before each job.
        libc::SYS_prlimit64,
        libc::SYS_getrusage,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    calls.extend(unconditional.into_iter().map(|c| (c, Vec::new())));
    #[cfg(target_arch = "x86_64")]
    {
        calls.push((libc::SYS_poll, Vec::new()));
        calls.push((libc::SYS_getrlimit, Vec::new()));
        calls.push((libc::SYS_setrlimit, Vec::new()));
    }
    Ok(calls)
}

/// The worker's stack: a reader nested deeper than this is a hostile file.
const STACK_BYTES: u64 = 8 * 1024 * 1024;

/// Limits and filters applied by a worker to itself.
#[derive(Debug, Clone, Copy)]
pub struct Confinement {
    /// Largest data segment (heap and private mappings), in MB.
    pub memory_mb: u64,
    /// Apply the system-call filter (seccomp).
    pub syscall_filter: bool,
}

fn limit(resource: Resource, value: u64, what: &str) -> Result<(), String> {
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )
    .map_err(|e| format!("cannot limit {what}: {e}"))
}

/// Applies everything; the worker must not read a document if this fails.
pub fn confine(c: Confinement) -> Result<(), String> {
    // Die with the server rather than run on alone.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("cannot tie the worker to the server: {e}"))?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("cannot make the worker undumpable: {e}"))?;
    limit(Resource::Core, 0, "core files")?;
    // A stack overflow ends the worker (reported as such), whatever the server's own limit.
    limit(Resource::Stack, STACK_BYTES, "the stack")?;
    limit(Resource::Fsize, 0, "file sizes")?;
    limit(
        Resource::Data,
        c.memory_mb.max(16).saturating_mul(1024 * 1024),
        "memory",
    )?;
    if c.syscall_filter {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|_| format!("no system-call filter for {}", std::env::consts::ARCH))?;
        let rules: BTreeMap<i64, Vec<SeccompRule>> = allowed_syscalls()?.into_iter().collect();
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            arch,
        )
        .map_err(|e| format!("system-call filter: {e}"))?;
        let program: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| format!("system-call filter: {e}"))?;
        seccompiler::apply_filter(&program).map_err(|e| format!("system-call filter: {e}"))?;
    }
    Ok(())
}

/// Sets this process's processor-time limit to `secs` beyond what it has used so far: past it
/// the kernel sends SIGXCPU, which ends the worker (no core file: see [`confine`]).
pub fn cpu_budget(secs: u64) {
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let until = (used.tv_sec.max(0) as u64)
        .saturating_add(secs.max(1))
        .saturating_add(1);
    let hard = rustix::process::getrlimit(Resource::Cpu).maximum;
    let current = hard.map_or(until, |h| until.min(h));
    let _ = rustix::process::setrlimit(
        Resource::Cpu,
        Rlimit {
            current: Some(current),
            maximum: hard,
        },
    );
}
