//! Zero-shot logits (100 · s · T over the bank, student in eval mode) agree with PyTorch and
//! torchvision within 1e-6.

mod support;

use lgd::eval::measure::zero_shot_logits;
use lgd::eval::ValidationSet;
use lgd::models::state_dict::state_dict;
use lgd::models::student::{Student, StudentArch, StudentOptions};
use lgd::objective::{normalize_rows, TextBank};
use lgd::tensor_io::{read_safetensors, write_safetensors};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[test]
fn zero_shot_logits_match_the_oracle() {
    let dir = support::scratch("zero-shot");
    tch::manual_seed(9);
    let vars = VarStore::new(Device::Cpu);
    let student = Student::new(&vars.root(), StudentArch::Resnet18, 64, StudentOptions::default());
    let bank =
        TextBank::new(normalize_rows(&Tensor::randn([7, 64], (Kind::Float, Device::Cpu))).tr().contiguous()).unwrap();
    let images = Tensor::randn([6, 3, 64, 64], (Kind::Float, Device::Cpu));
    let weights = state_dict(&vars);
    let mut named: Vec<(String, &Tensor)> = weights.iter().map(|(k, t)| (format!("student.{k}"), t)).collect();
    named.push(("bank".into(), bank.tensor()));
    named.push(("images".into(), &images));
    let refs: Vec<(&str, &Tensor)> = named.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    write_safetensors(&dir.join("inputs.safetensors"), &refs, &Default::default()).unwrap();
    support::run_oracle("zero_shot_oracle.py", &[&dir]);

    let set = ValidationSet::from_tensors(&images, &Tensor::zeros([6], (Kind::Int64, Device::Cpu)));
    let (logits, _) = zero_shot_logits(&student, &set, &bank, Device::Cpu).unwrap();
    let expected = &read_safetensors(&dir.join("expected.safetensors")).unwrap().tensors["logits"];
    let diff = (&logits - expected).abs().max().double_value(&[]);
    println!("zero-shot logits: max |lgd - PyTorch| = {diff:.1e} over {:?}", expected.size());
    assert!(diff <= 1e-6, "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}
