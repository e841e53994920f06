use std::collections::BTreeMap;

use tch::{Device, Kind, Tensor};

use super::*;

fn state(step: u64) -> TrainingState {
    TrainingState {
        step,
        epoch: 1,
        step_in_epoch: step % 7,
        model: BTreeMap::from([("conv1.weight".into(), Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu)))]),
        momentum: BTreeMap::from([("conv1.weight".into(), Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu)))]),
        visual_bank: Tensor::randn([8, 5], (Kind::Float, Device::Cpu)),
        seen: Tensor::from_slice(&[true, false, true, false, false]),
        scaler: Some((32768.0, 17)),
        config: "[run]\nseed = 3\n".into(),
        data: Some(DataShape { samples: 1_281_167, classes: 1000 }),
    }
}

fn run_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lgd-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    dir
}

#[test]
fn round_trip_keeps_everything() {
    let dir = run_dir("round-trip");
    let original = state(12);
    original.save(&checkpoint_path(&dir, 12)).unwrap();
    let loaded = TrainingState::load(&checkpoint_path(&dir, 12)).unwrap();
    assert_eq!((loaded.step, loaded.epoch, loaded.step_in_epoch, loaded.scaler), (12, 1, 5, Some((32768.0, 17))));
    assert!(loaded.model["conv1.weight"].equal(&original.model["conv1.weight"]));
    assert!(loaded.momentum["conv1.weight"].equal(&original.momentum["conv1.weight"]));
    assert!(loaded.visual_bank.equal(&original.visual_bank) && loaded.seen.equal(&original.seen));
    assert_eq!(loaded.config, original.config);
    assert_eq!(loaded.data, Some(DataShape { samples: 1_281_167, classes: 1000 }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupted_and_truncated_files_are_detected_and_skipped() {
    let dir = run_dir("corrupt");
    for step in [10, 20, 30] {
        state(step).save(&checkpoint_path(&dir, step)).unwrap();
    }
    // Flip one byte of step 30's tensor data; truncate step 20.
    let newest = checkpoint_path(&dir, 30);
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&newest, &bytes).unwrap();
    let middle = checkpoint_path(&dir, 20);
    let bytes = std::fs::read(&middle).unwrap();
    std::fs::write(&middle, &bytes[..bytes.len() / 2]).unwrap();

    assert!(matches!(TrainingState::load(&newest), Err(CheckpointError::Checksum { .. })));
    let (found, skipped) = newest_valid(&dir);
    let (path, state) = found.expect("step 10 is intact");
    assert_eq!((path, state.step), (checkpoint_path(&dir, 10), 10));
    assert_eq!(skipped.len(), 2);
    assert!(skipped[0].to_string().contains("step-0000000030") && skipped[0].to_string().contains("checksum"));
    assert!(skipped[1].to_string().contains("step-0000000020"), "{}", skipped[1]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prune_keeps_the_newest() {
    let dir = run_dir("prune");
    for step in 1..=5 {
        state(step).save(&checkpoint_path(&dir, step)).unwrap();
    }
    let removed = prune(&dir, 2).unwrap();
    assert_eq!(removed.len(), 3);
    assert_eq!(list_checkpoints(&dir), vec![checkpoint_path(&dir, 4), checkpoint_path(&dir, 5)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_host_copy_keeps_the_values_of_its_moment() {
    let live = state(3);
    let copy = live.host_copy();
    let before = live.model["conv1.weight"].copy();
    // Training goes on in place after the copy was taken.
    let _ = live.model["conv1.weight"].shallow_clone().g_add_scalar_(1.0);
    let _ = live.visual_bank.shallow_clone().g_mul_scalar_(0.0);
    assert!(copy.model["conv1.weight"].equal(&before), "the copy shares no storage with the live weights");
    assert!(!copy.visual_bank.equal(&live.visual_bank));
    assert_eq!((copy.step, copy.scaler, copy.config.as_str()), (3, Some((32768.0, 17)), live.config.as_str()));
}
