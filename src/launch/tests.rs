//! Launches of `/bin/sh -c` ranks: the environment each sees, fail-fast, signal forwarding.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::*;

/// A signal to the test process reaches every launch running in it, so launches here run one at a
/// time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-launch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each rank runs `script` in `/bin/sh` with `$D` set to `dir`.
fn launch_sh(plan: &LaunchPlan, dir: &Path, script: &str) -> Result<i32, LaunchError> {
    let script = format!("D='{}'\n{script}", dir.display());
    launch(plan, Path::new("/bin/sh"), &["-c".into(), script.into()])
}

fn wait_for(path: PathBuf) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_rank_gets_the_torchrun_environment() {
    let _serial = serial();
    let dir = scratch("env");
    let plan = LaunchPlan {
        nproc_per_node: 3,
        nnodes: 2,
        node_rank: 1,
        master_addr: "10.0.0.7".into(),
        master_port: 29511,
        ..Default::default()
    };
    assert_eq!(launch_sh(&plan, &dir, r#"env > "$D/env.$LOCAL_RANK""#).unwrap(), 0);
    for local in 0..3u32 {
        let text = std::fs::read_to_string(dir.join(format!("env.{local}"))).unwrap();
        let vars: HashMap<&str, &str> = text.lines().filter_map(|line| line.split_once('=')).collect();
        let expected = [
            ("MASTER_ADDR", "10.0.0.7".to_string()),
            ("MASTER_PORT", "29511".into()),
            ("WORLD_SIZE", "6".into()),
            ("RANK", (3 + local).to_string()),
            ("LOCAL_RANK", local.to_string()),
            ("LOCAL_WORLD_SIZE", "3".into()),
            ("GROUP_RANK", "1".into()),
        ];
        for (name, value) in expected {
            assert_eq!(vars.get(name).copied(), Some(value.as_str()), "{name} of local rank {local}");
        }
        assert!(vars.contains_key("PATH"), "the launcher's own environment is inherited");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn all_ranks_exiting_0_give_0_and_port_0_picks_one_free_port() {
    let _serial = serial();
    let dir = scratch("zero");
    let plan = LaunchPlan { nproc_per_node: 3, master_port: 0, ..Default::default() };
    assert_eq!(launch_sh(&plan, &dir, r#"echo "$MASTER_PORT" > "$D/port.$LOCAL_RANK""#).unwrap(), 0);
    let ports: Vec<u16> = (0..3)
        .map(|r| std::fs::read_to_string(dir.join(format!("port.{r}"))).unwrap().trim().parse().unwrap())
        .collect();
    assert!(ports[0] != 0 && ports.iter().all(|&p| p == ports[0]), "one real port for every rank: {ports:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_rank_stops_the_others_and_its_code_is_returned() {
    let _serial = serial();
    let dir = scratch("fail");
    let plan = LaunchPlan { nproc_per_node: 3, grace: Duration::from_secs(60), ..Default::default() };
    let script = r#"
        if [ "$LOCAL_RANK" = 1 ]; then sleep 0.3; exit 7; fi
        trap 'touch "$D/term.$LOCAL_RANK"; exit 0' TERM
        while :; do sleep 0.05; done"#;
    let started = Instant::now();
    assert_eq!(launch_sh(&plan, &dir, script).unwrap(), 7);
    assert!(started.elapsed() < Duration::from_secs(30), "SIGTERM, not the grace period's SIGKILL, ended them");
    for local in [0, 2] {
        assert!(dir.join(format!("term.{local}")).exists(), "rank {local} was sent SIGTERM");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rank_ignoring_sigterm_is_killed_after_the_grace_period() {
    let _serial = serial();
    let dir = scratch("grace");
    let plan = LaunchPlan { nproc_per_node: 2, grace: Duration::from_millis(300), ..Default::default() };
    let script = r#"
        if [ "$LOCAL_RANK" = 1 ]; then sleep 0.2; exit 3; fi
        trap '' TERM
        while :; do sleep 0.05; done"#;
    let started = Instant::now();
    assert_eq!(launch_sh(&plan, &dir, script).unwrap(), 3, "the first failure's code, not the SIGKILL's 137");
    assert!(started.elapsed() < Duration::from_secs(10));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rank_killed_by_a_signal_reports_128_plus_the_signal() {
    let _serial = serial();
    let dir = scratch("signal-death");
    let plan = LaunchPlan { nproc_per_node: 2, ..Default::default() };
    let script = r#"if [ "$LOCAL_RANK" = 0 ]; then kill -KILL $$; fi; exit 0"#;
    assert_eq!(launch_sh(&plan, &dir, script).unwrap(), 128 + 9);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn signals_to_the_launcher_reach_every_rank() {
    let _serial = serial();
    let dir = scratch("forward");
    let plan = LaunchPlan { nproc_per_node: 2, ..Default::default() };
    let script = r#"
        trap 'touch "$D/usr1.$LOCAL_RANK"' USR1
        trap 'touch "$D/term.$LOCAL_RANK"; exit 0' TERM
        touch "$D/ready.$LOCAL_RANK"
        while :; do sleep 0.05; done"#;
    let launcher = {
        let dir = dir.clone();
        std::thread::spawn(move || launch_sh(&plan, &dir, script))
    };
    (0..2).for_each(|r| wait_for(dir.join(format!("ready.{r}"))));
    signal_hook::low_level::raise(libc::SIGUSR1).unwrap();
    (0..2).for_each(|r| wait_for(dir.join(format!("usr1.{r}"))));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!launcher.is_finished(), "SIGUSR1 is passed on, it stops nothing");
    signal_hook::low_level::raise(libc::SIGTERM).unwrap();
    assert_eq!(launcher.join().unwrap().unwrap(), 0, "the ranks stopped cleanly on the forwarded SIGTERM");
    (0..2).for_each(|r| assert!(dir.join(format!("term.{r}")).exists(), "rank {r} got SIGTERM"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_plans_are_refused_before_anything_starts() {
    let _serial = serial();
    let sh = Path::new("/bin/sh");
    let args: Vec<OsString> = vec!["-c".into(), "exit 0".into()];
    let refused = |plan: LaunchPlan, args: &[OsString]| launch(&plan, sh, args).unwrap_err();
    let plan = LaunchPlan::default;
    assert!(matches!(refused(LaunchPlan { nproc_per_node: 0, ..plan() }, &args), LaunchError::NoProcesses));
    assert!(matches!(refused(LaunchPlan { nnodes: 0, ..plan() }, &args), LaunchError::NoNodes));
    assert!(matches!(
        refused(LaunchPlan { nnodes: 2, node_rank: 2, ..plan() }, &args),
        LaunchError::NodeRankOutOfRange { node_rank: 2, nnodes: 2 }
    ));
    assert!(matches!(
        refused(LaunchPlan { nnodes: 2, master_port: 0, ..plan() }, &args),
        LaunchError::FreePortNeedsOneNode
    ));
    assert!(matches!(refused(plan(), &[]), LaunchError::NoCommand));
    let missing = launch(&plan(), Path::new("/nonexistent/lgd"), &args).unwrap_err();
    assert!(matches!(missing, LaunchError::Spawn { rank: 0, .. }), "{missing}");
}
