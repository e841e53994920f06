//! On the CPU, N steps + checkpoint + a new process-like restore + N steps gives bit-identical
//! student parameters, momentum, visual bank and seen flags to 2N uninterrupted steps — with the
//! real pretrained teacher (EfficientNet-Lite0) and a ResNet-18 student.

mod support;

use std::path::{Path, PathBuf};

use lgd::checkpoint::{checkpoint_path, newest_valid};
use lgd::config::Config;
use lgd::daemon::topology::bank_maintenance;
use lgd::models::teacher::SupervisedTeacher;
use lgd::train::Trainer;
use support::states::assert_identical;
use tch::{Device, Kind, Tensor};

const STEPS: u64 = 3;
const STEPS_PER_EPOCH: u64 = 4;

fn config() -> Config {
    let text = r#"
        [run]
        seed = 7
        device = "cpu"
        [data]
        train = "unused"
        batch_size = 4
        [student]
        arch = "resnet18"
        [teacher]
        kind = "supervised"
        weights = "lite0.pth"
        [banks]
        text = "teacher_classifier"
        visual_momentum = 0.9
        [schedule]
        epochs = 3
        warmup_epochs = 1
        [precision]
        autocast = "fp32"
    "#;
    Config::parse(text, Path::new("resume.toml")).unwrap()
}

fn lite0_weights() -> PathBuf {
    let dir = support::scratch("resume-weights");
    support::run_oracle("lite0_oracle.py", &[&dir]);
    PathBuf::from(std::fs::read_to_string(dir.join("weights_path.txt")).unwrap())
}

/// The batch of step k, independent of everything else the trainer does.
fn batch(step: u64) -> Tensor {
    tch::manual_seed(10_000 + step as i64);
    Tensor::randn([4, 3, 64, 64], (Kind::Float, Device::Cpu))
}

fn trainer(weights: &Path) -> Trainer<SupervisedTeacher> {
    Trainer::new(
        &config(),
        SupervisedTeacher::load(weights, Device::Cpu).unwrap(),
        STEPS_PER_EPOCH,
        Device::Cpu,
        bank_maintenance,
    )
    .unwrap()
}

fn run(trainer: &mut Trainer<SupervisedTeacher>, steps: std::ops::Range<u64>) {
    for step in steps {
        assert_eq!(trainer.step, step);
        trainer.step(&batch(step)).unwrap();
    }
}

#[test]
fn stop_and_resume_equals_an_uninterrupted_run() {
    let weights = lite0_weights();
    let mut straight = trainer(&weights);
    run(&mut straight, 0..2 * STEPS);

    let run_dir = support::scratch("resume-run");
    let mut first = trainer(&weights);
    run(&mut first, 0..STEPS);
    first.state().unwrap().save(&checkpoint_path(&run_dir, STEPS)).unwrap();
    drop(first);

    let (found, skipped) = newest_valid(&run_dir);
    assert!(skipped.is_empty());
    let (_, state) = found.unwrap();
    let mut resumed = trainer(&weights);
    resumed.restore(state).unwrap();
    run(&mut resumed, STEPS..2 * STEPS);

    let (a, b) = (straight.state().unwrap(), resumed.state().unwrap());
    assert_identical(&a, &b);
    assert_eq!(a.epoch, 1, "the run crossed an epoch boundary");
    println!(
        "resume: {} parameters, {} momentum buffers, V {:?} bit-identical after {STEPS}+{STEPS} steps",
        a.model.len(),
        a.momentum.len(),
        a.visual_bank.size()
    );
    std::fs::remove_dir_all(&run_dir).unwrap();
}
