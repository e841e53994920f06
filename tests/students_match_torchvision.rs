//! Every student agrees with torchvision (oracle: tests/oracle/students_oracle.py) on the same
//! weights and input: outputs within 1e-4 relative in eval mode and in train mode (batch statistics),
//! the BN running statistics after the train-mode pass, and the initialisation scale per tensor.

mod support;

use std::collections::BTreeMap;

use lgd::models::state_dict::load_state_dict;
use lgd::models::student::{Student, StudentArch, StudentOptions};
use lgd::tensor_io::read_safetensors;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const EMBED_DIM: i64 = 128;
const RELATIVE: f64 = 1e-4;
/// Tensors smaller than this give too noisy a std to compare at 10 %.
const MIN_NUMEL_FOR_STD: i64 = 1000;

fn relative_error(ours: &Tensor, reference: &Tensor) -> f64 {
    assert_eq!(ours.size(), reference.size());
    let scale = reference.abs().max().double_value(&[]).max(1e-12);
    (ours - reference).abs().max().double_value(&[]) / scale
}

fn build(arch: StudentArch) -> (VarStore, Student) {
    let vs = VarStore::new(Device::Cpu);
    let student = Student::new(&vs.root(), arch, EMBED_DIM, StudentOptions { stochastic_depth: 0.0 });
    (vs, student)
}

#[test]
fn students_match_torchvision_outputs_statistics_and_init() {
    let dir = support::scratch("students");
    support::run_oracle("students_oracle.py", &[&dir, std::path::Path::new(&EMBED_DIM.to_string())]);
    for arch in StudentArch::ALL {
        let name = arch.torchvision_name();
        let weights = read_safetensors(&dir.join(format!("{name}.weights.safetensors"))).unwrap();
        let expected = read_safetensors(&dir.join(format!("{name}.expected.safetensors"))).unwrap().tensors;
        let (vs, student) = build(arch);
        load_state_dict(&vs, &weights.tensors, name, name, |_| false).unwrap();

        let x = &expected["input"];
        let eval = tch::no_grad(|| student.forward_t(x, false));
        let train = tch::no_grad(|| student.forward_t(x, true));
        let eval_error = relative_error(&eval, &expected["eval"]);
        let train_error = relative_error(&train, &expected["train"]);
        let mut buffer_error: f64 = 0.0;
        let variables = vs.variables();
        for (key, value) in expected.iter().filter_map(|(k, v)| k.strip_prefix("after.").map(|k| (k, v))) {
            let ours = &variables[key];
            if ours.kind() == Kind::Int64 {
                assert!(ours.equal(value), "{name} {key}: {ours} vs {value}");
            } else {
                buffer_error = buffer_error.max(relative_error(ours, value));
            }
        }
        println!("{name}: eval {eval_error:.1e}, train {train_error:.1e}, running stats {buffer_error:.1e} (relative)");
        assert!(eval_error <= RELATIVE, "{name} eval-mode output differs by {eval_error:e}");
        assert!(train_error <= RELATIVE, "{name} train-mode output differs by {train_error:e}");
        assert!(buffer_error <= RELATIVE, "{name} running statistics differ by {buffer_error:e}");

        let reference: BTreeMap<String, f64> =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.init_std.json"))).unwrap()).unwrap();
        tch::manual_seed(0);
        let (fresh, _) = build(arch);
        let (mut compared, mut worst) = (0, 0.0f64);
        for (key, tensor) in fresh.variables() {
            let Some(&want) = reference.get(&key) else { continue };
            let ours = tensor.std(true).double_value(&[]);
            if want == 0.0 {
                assert_eq!(ours, 0.0, "{name} {key}: torchvision initialises it to a constant");
            } else if tensor.numel() as i64 >= MIN_NUMEL_FOR_STD {
                let deviation = (ours / want - 1.0).abs();
                assert!(deviation <= 0.10, "{name} {key}: init std {ours:.4e} vs torchvision {want:.4e}");
                worst = worst.max(deviation);
                compared += 1;
            }
        }
        println!("{name}: init std of {compared} tensors within {:.1} % of torchvision", worst * 100.0);
        assert!(compared > 10);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
