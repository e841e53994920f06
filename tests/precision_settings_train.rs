//! The precision settings change how a step computes, not what it computes: channels_last gives the
//! same parameters as NCHW (to float tolerance), bf16 autocast a loss close to fp32's.

mod support;

use std::path::Path;

use lgd::config::Config;
use lgd::models::teacher::SupervisedTeacher;
use lgd::train::Trainer;
use tch::{Device, Kind, Tensor};

fn trainer(precision: &str) -> Trainer<SupervisedTeacher> {
    let text = format!(
        "[run]\nseed = 1\ndevice = \"cpu\"\n[data]\ntrain = \"unused\"\nbatch_size = 4\n[student]\narch = \"resnet18\"\n\
         [teacher]\nkind = \"supervised\"\nweights = \"lite0.pth\"\n[banks]\ntext = \"teacher_classifier\"\n\
         [optimizer]\nlr = 2.0\n[precision]\n{precision}\n"
    );
    let config = Config::parse(&text, Path::new("precision.toml")).unwrap();
    let teacher = SupervisedTeacher::load(&support::lite0_weights(), Device::Cpu).unwrap();
    Trainer::new(&config, teacher, 10, Device::Cpu).unwrap()
}

fn batch(step: i64) -> Tensor {
    tch::manual_seed(500 + step);
    Tensor::randn([4, 3, 64, 64], (Kind::Float, Device::Cpu))
}

#[test]
fn channels_last_and_bf16_keep_the_step_s_meaning() {
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
    let worst = a
        .model
        .iter()
        .map(|(name, t)| (t - &b.model[name]).abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    println!("precision: losses (fp32, channels_last, bf16) {losses:?}; max parameter diff NCHW vs NHWC {worst:.1e}");
    assert!(worst < 1e-4, "channels_last changed the parameters by {worst}");
    for (fp32, nhwc, bf16) in losses {
        assert!((fp32 - nhwc).abs() < 1e-4);
        assert!(bf16.is_finite() && ((bf16 - fp32) / fp32).abs() < 0.05, "bf16 loss {bf16} vs fp32 {fp32}");
    }
}
