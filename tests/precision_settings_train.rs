//! The precision settings change how a step computes, not what it computes: channels_last gives the
//! same parameters as NCHW (to float tolerance), bf16 autocast a loss close to fp32's; fp16 goes
//! through its gradient scaler, and a NaN loss changes neither weights, momentum, scaler nor bank.

mod support;

use std::path::Path;

use lgd::config::Config;
use lgd::daemon::topology::bank_maintenance;
use lgd::models::teacher::SupervisedTeacher;
use lgd::train::Trainer;
use tch::{Device, Kind, Tensor};

fn config(precision: &str) -> Config {
    let text = format!(
        "[run]\nseed = 1\ndevice = \"cpu\"\n[data]\ntrain = \"unused\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
         [teacher]\nkind = \"supervised\"\nweights = \"lite0.pth\"\n[banks]\ntext = \"teacher_classifier\"\n\
         [optimizer]\nlr = 2.0\n[precision]\n{precision}\n"
    );
    Config::parse(&text, Path::new("precision.toml")).unwrap()
}

fn trainer(precision: &str) -> Trainer<SupervisedTeacher> {
    let config = config(precision);
    let teacher = SupervisedTeacher::load(&support::lite0_weights(), Device::Cpu).unwrap();
    Trainer::new(&config, teacher, 10, Device::Cpu, bank_maintenance).unwrap()
}

/// The step seeds libtorch's global generator: tests of this file take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn batch(step: i64) -> Tensor {
    tch::manual_seed(500 + step);
    Tensor::randn([4, 3, 64, 64], (Kind::Float, Device::Cpu))
}

#[test]
fn channels_last_and_bf16_keep_the_step_s_meaning() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut reference = trainer("autocast = \"fp32\"\nchannels_last = false");
    let mut nhwc = trainer("autocast = \"fp32\"\nchannels_last = true");
    let mut bf16 = trainer("autocast = \"bf16\"\nchannels_last = false");
    let mut losses = Vec::new();
    for step in 0..2 {
        let x = batch(step);
        let a = reference.step(&x).unwrap().loss.double_value(&[]);
        let b = nhwc.step(&x).unwrap().loss.double_value(&[]);
        let c = bf16.step(&x).unwrap().loss.double_value(&[]);
        losses.push((a, b, c));
    }
    let (a, b) = (reference.state().unwrap(), nhwc.state().unwrap());
    let worst = a.model.iter().map(|(name, t)| (t - &b.model[name]).abs().max().double_value(&[])).fold(0.0, f64::max);
    println!("precision: losses (fp32, channels_last, bf16) {losses:?}; max parameter diff NCHW vs NHWC {worst:.1e}");
    assert!(worst < 1e-4, "channels_last changed the parameters by {worst}");
    for (fp32, nhwc, bf16) in losses {
        assert!((fp32 - nhwc).abs() < 1e-4);
        assert!(bf16.is_finite() && ((bf16 - fp32) / fp32).abs() < 0.05, "bf16 loss {bf16} vs fp32 {fp32}");
    }
}

/// A deep copy of what a checkpoint would hold (the trainer's state shares storage with it).
fn snapshot(trainer: &Trainer<SupervisedTeacher>) -> lgd::checkpoint::TrainingState {
    let mut state = trainer.state().unwrap();
    state.model = state.model.iter().map(|(k, v)| (k.clone(), v.copy())).collect();
    state.momentum = state.momentum.iter().map(|(k, v)| (k.clone(), v.copy())).collect();
    state
}

#[test]
fn fp16_steps_through_its_scaler_and_a_nonfinite_loss_changes_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // The config refuses fp16 on the CPU (slow kernels, and the scaler is a GPU matter); set past
    // validation here, it runs the scaler's whole path on the device at hand.
    let mut config = config("autocast = \"fp32\"\nchannels_last = true\n[fault_injection]\nnonfinite_loss_steps = [2]");
    config.precision.autocast = lgd::config::Autocast::Fp16;
    let teacher = SupervisedTeacher::load(&support::lite0_weights(), Device::Cpu).unwrap();
    let mut fp16 = Trainer::new(&config, teacher, 10, Device::Cpu, bank_maintenance).unwrap();
    let first = fp16.step(&batch(0)).unwrap();
    assert!(first.loss.double_value(&[]).is_finite() && !bool::try_from(&first.nonfinite).unwrap());
    let before = snapshot(&fp16);
    let (scale, tracker) = before.scaler.expect("fp16 keeps a scaler");
    // Step 1 either applied (the tracker counts it) or overflowed in fp16 (the scale backed off).
    let applied = !bool::try_from(&first.skipped).unwrap();
    assert_eq!((scale, tracker), if applied { (65536.0, 1) } else { (32768.0, 0) });
    let second = fp16.step(&batch(1)).unwrap();
    assert!(bool::try_from(&second.nonfinite).unwrap() && bool::try_from(&second.skipped).unwrap());
    let after = snapshot(&fp16);
    assert_eq!(after.scaler, before.scaler, "the scaler is left alone");
    // Batch-norm statistics are not among them: the forward pass keeps them, as torch's does.
    let statistics = |name: &str| {
        name.ends_with("running_mean") || name.ends_with("running_var") || name.ends_with("num_batches_tracked")
    };
    for (name, tensor) in before.model.iter().filter(|(name, _)| !statistics(name)) {
        assert!(tensor.equal(&after.model[name]), "parameter {name} moved");
    }
    for (name, tensor) in &before.momentum {
        assert!(tensor.equal(&after.momentum[name]), "momentum {name} moved");
    }
    assert!(before.visual_bank.equal(&after.visual_bank) && before.seen.equal(&after.seen), "the bank moved");
    assert_eq!(after.step, 2, "the position moves on");
    println!(
        "precision: fp16 step 1 {}, scale {scale}; the NaN step 2 changed nothing",
        if applied { "applied" } else { "skipped" }
    );
}
