//! The writer against a real folder: each step's own weights, failures reported, pruning, the best file.

use std::collections::BTreeMap;

use tch::{Device, Kind, Tensor};

use super::*;
use crate::daemon::topology;

const CONFIG: &str = "[data]\ntrain = \"t\"\nbatch_size = 8\n[student]\narch = \"resnet18\"\n[teacher]\nkind = \"supervised\"\nweights = \"w\"\n[banks]\ntext = \"teacher_classifier\"\n[checkpoint]\nkeep_last = 2\n";

const SHAPE: DataShape = DataShape { samples: 40, classes: 2 };

fn state(step: u64, weights: &Tensor) -> TrainingState {
    TrainingState {
        step,
        epoch: 0,
        step_in_epoch: step,
        model: BTreeMap::from([("w".into(), weights.shallow_clone())]),
        momentum: BTreeMap::new(),
        visual_bank: Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)),
        seen: Tensor::from_slice(&[false, true]),
        scaler: None,
        config: String::new(),
        data: None,
    }
}

#[test]
#[cfg(feature = "fault-injection")]
fn the_writer_keeps_each_steps_weights_reports_failures_and_prunes() {
    let dir = std::env::temp_dir().join(format!("lgd-checkpointer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let faulty = format!("{CONFIG}[fault_injection]\nfail_checkpoint_steps = [4]\n");
    let config = Config::parse(&faulty, Path::new("run.toml")).unwrap();
    let mut checkpoints = Checkpointer::new(&dir, 0, topology::checkpoint_writer(1).unwrap(), SHAPE);
    let weights = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    for step in 1..=5 {
        // Training changes the weights in place right after each request.
        checkpoints.queue(state(step, &weights), Target::Step { keep_last: 2 }, &config).unwrap();
        let _ = weights.shallow_clone().g_add_scalar_(1.0);
    }
    checkpoints.wait(&config).unwrap();
    assert_eq!(
        (checkpoints.saved_at, checkpoints.failures, checkpoints.stopped),
        (Some(5), 1, false),
        "step 4 failed, training went on"
    );
    let kept: Vec<(u64, Vec<f32>)> = crate::checkpoint::list_checkpoints(&dir)
        .iter()
        .map(|p| TrainingState::load(p).unwrap())
        .inspect(|s| assert_eq!(s.data, Some(SHAPE), "every checkpoint names its training data"))
        .map(|s| (s.step, Vec::<f32>::try_from(&s.model["w"]).unwrap()))
        .collect();
    assert_eq!(
        kept,
        vec![(3, vec![2.0; 3]), (5, vec![4.0; 3])],
        "each file holds its own step's weights; keep_last = 2"
    );
    assert_eq!(checkpoints.last, Some(checkpoint_path(&dir, 5)));
    drop(checkpoints);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_best_score_is_kept_and_a_resumed_run_compares_against_it() {
    let dir = std::env::temp_dir().join(format!("lgd-checkpointer-best-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::parse(CONFIG, Path::new("run.toml")).unwrap();
    let mut checkpoints = Checkpointer::new(&dir, 0, topology::checkpoint_writer(1).unwrap(), SHAPE);
    let weights = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    let mut taken = Vec::new();
    for (step, value) in [(1, 0.2), (2, 0.5), (3, 0.4), (5, 0.5), (6, 0.7), (7, 0.6)] {
        let score = BestScore { metric: "student_top1", value, step };
        if checkpoints.beats_best(&score) {
            checkpoints.save_best(state(step, &weights), score, &config).unwrap();
            taken.push(step);
        }
        let _ = weights.shallow_clone().g_add_scalar_(1.0);
    }
    checkpoints.wait(&config).unwrap();
    assert_eq!(taken, vec![1, 2, 6], "a tie (step 5) keeps the earlier best");
    let best = TrainingState::load(&best_path(&dir)).unwrap();
    assert_eq!((best.step, Vec::<f32>::try_from(&best.model["w"]).unwrap()), (6, vec![4.0; 3]));
    assert!(crate::checkpoint::list_checkpoints(&dir).is_empty(), "the best file is not a step checkpoint");
    drop(checkpoints);

    let resumed = Checkpointer::new(&dir, 7, topology::checkpoint_writer(1).unwrap(), SHAPE);
    assert!(
        !resumed.beats_best(&BestScore { metric: "student_top1", value: 0.65, step: 8 }),
        "0.7 from best.json still stands"
    );
    assert!(resumed.beats_best(&BestScore { metric: "student_top1", value: 0.75, step: 8 }));
    drop(resumed);
    std::fs::remove_dir_all(&dir).unwrap();
}
