//! Starting the ranks and watching them: forward the operator's signals, notice the first
//! failure, stop the rest, collect every exit.
//!
//! Each rank runs in a process group of its own. A terminal's Ctrl-C goes to the foreground
//! group only, so it reaches the launcher once and each rank once, through forwarding; were the
//! ranks in the launcher's group they would get it twice, and the daemon reads a second SIGINT as
//! "exit now, skip the checkpoint". Signals go to a rank's whole group, as the terminal would
//! have sent them, so helpers a rank started are stopped with it.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use super::{LaunchError, RankEnv};

/// The signals an operator (or Slurm's time-limit warning) sends a run; all of them mean
/// something to `lgd train` (SIGUSR2 with `run.requeue_signal = "USR2"`).
const FORWARDED: [i32; 5] = [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP];

/// How often children and pending signals are looked at: short next to any grace period, long
/// enough that an idle launcher costs nothing. The launcher polls on purpose, from its one
/// thread: a rank's PR_SET_PDEATHSIG fires each time the kernel hands the orphan on to another
/// thread of a dying launcher, so with helper threads (a waiter per rank, a signal thread) a
/// SIGKILLed launcher's ranks got several SIGTERMs, and the daemon reads a second one as "exit
/// now, no checkpoint" (measured: tests/two_nodes_and_slurm_tasks_train.rs failed 2 runs in 3).
const POLL: Duration = Duration::from_millis(50);

/// One started rank.
struct Worker {
    rank: u64,
    child: Child,
    /// Reaped: its pid may belong to someone else now, so it is never signalled again.
    exited: bool,
}

/// Starts every rank, supervises them to the end, returns the launch's exit code.
pub(super) fn run(program: &Path, args: &[OsString], ranks: &[RankEnv], grace: Duration) -> Result<i32, LaunchError> {
    // Installed before the first spawn, so a signal arriving mid-start is forwarded, not lost.
    let mut signals = Signals::new(FORWARDED).map_err(LaunchError::Signals)?;
    let mut workers = Vec::with_capacity(ranks.len());
    for env in ranks {
        match spawn(program, args, env) {
            Ok(child) => {
                tracing::info!(rank = env.rank, local_rank = env.local_rank, pid = child.id(), "rank started");
                workers.push(Worker { rank: env.rank, child, exited: false });
            }
            Err(source) => {
                kill_and_reap(&mut workers);
                return Err(LaunchError::Spawn { rank: env.rank, program: program.to_owned(), source });
            }
        }
    }
    let outcome = supervise(&mut workers, &mut signals, grace);
    if outcome.is_err() {
        kill_and_reap(&mut workers);
    }
    outcome
}

fn spawn(program: &Path, args: &[OsString], env: &RankEnv) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command.args(args).envs(env.vars()).process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of the forked parent. It asks the
    // kernel to SIGTERM the rank if the launcher dies without forwarding anything (SIGKILL, OOM
    // killer), so no rank is left holding a GPU. The kernel ties this to the spawning thread,
    // which outlives the ranks since it waits for them.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

/// The wait/forward/stop loop. Returns the first failing rank's code, else 0.
fn supervise(workers: &mut [Worker], signals: &mut Signals, grace: Duration) -> Result<i32, LaunchError> {
    let mut first_failure: Option<i32> = None;
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    loop {
        for signal in signals.pending() {
            tracing::info!(signal, "forwarding the signal to every rank");
            signal_all(workers, signal);
        }
        for worker in workers.iter_mut().filter(|w| !w.exited) {
            let status = worker.child.try_wait().map_err(|source| LaunchError::Wait { rank: worker.rank, source })?;
            let Some(status) = status else { continue };
            worker.exited = true;
            let code = exit_code(status);
            if code != 0 && first_failure.is_none() {
                tracing::error!(
                    rank = worker.rank,
                    code,
                    "rank {} failed first ({status}); stopping the other ranks",
                    worker.rank
                );
                first_failure = Some(code);
            }
        }
        if workers.iter().all(|w| w.exited) {
            return Ok(first_failure.unwrap_or(0));
        }
        if first_failure.is_some() && kill_at.is_none() {
            signal_all(workers, SIGTERM);
            kill_at = Some(Instant::now() + grace);
        }
        if !killed && kill_at.is_some_and(|at| Instant::now() >= at) {
            tracing::warn!(grace_seconds = grace.as_secs_f64(), "ranks still running after the grace period: SIGKILL");
            signal_all(workers, SIGKILL);
            killed = true;
        }
        std::thread::sleep(POLL);
    }
}

/// A shell's view of an exit: the code, or 128 + the signal that killed the process.
fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Sends `signal` to the process group of every rank still running. A group already gone
/// (ESRCH) is fine: the rank is exiting and will be reaped on the next look.
fn signal_all(workers: &[Worker], signal: i32) {
    for worker in workers.iter().filter(|w| !w.exited) {
        let group = worker.child.id() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions; the group is one of our unreaped children's.
        unsafe { libc::kill(-group, signal) };
    }
}

/// The last resort when supervision itself failed: no rank may outlive the launcher unwatched.
fn kill_and_reap(workers: &mut [Worker]) {
    signal_all(workers, SIGKILL);
    for worker in workers.iter_mut().filter(|w| !w.exited) {
        let _ = worker.child.wait();
        worker.exited = true;
    }
}
