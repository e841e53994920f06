//! `lgd export` on an LGD training checkpoint (`module.student.*` keys) writes files that PyTorch
//! loads as users load them: torchvision format into `torchvision.models.*` with strict=True (head set
//! aside) giving the same features; MobileNetV2 in the mmdet/mmseg layouts, every tensor mapped once.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lgd::models::state_dict::state_dict;
use lgd::models::student::{Student, StudentArch, StudentOptions};
use lgd::tensor_io::write_safetensors;
use lgd::weights::torch_writer::{write_torch_file, SaveValue};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Writes a checkpoint as the original LGD training code saves one, and the student's features.
fn training_checkpoint(arch: StudentArch, dir: &Path) -> BTreeMap<String, Tensor> {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let student = Student::new(&vs.root(), arch, 64, StudentOptions::default());
    let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
    let features = tch::no_grad(|| student.features(&x, false));
    write_safetensors(&dir.join("input.safetensors"), &[("x", &x), ("features", &features)], &Default::default()).unwrap();
    let weights = state_dict(&vs);
    let renamed: BTreeMap<String, Tensor> =
        weights.iter().map(|(k, t)| (format!("module.student.{k}"), t.shallow_clone())).collect();
    let teacher = Tensor::zeros([4, 4], (Kind::Float, Device::Cpu));
    let mut state: BTreeMap<String, SaveValue> = renamed.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect();
    state.insert("module.teacher.proj".into(), SaveValue::Tensor(&teacher));
    let root = SaveValue::Dict(BTreeMap::from([("state_dict".to_owned(), SaveValue::Dict(state))]));
    write_torch_file(&dir.join("checkpoint.pth.tar"), &root).unwrap();
    weights
}

fn lgd_export(dir: &Path, format: &str, out: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["export", "checkpoint.pth.tar", "--format", format, "--out", out])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "lgd export {format}: {}", String::from_utf8_lossy(&output.stderr));
}

fn report(dir: &Path, arch: StudentArch) -> serde_json::Value {
    support::run_oracle("export_oracle.py", &[dir, Path::new(arch.torchvision_name())]);
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn resnet18_export_loads_strictly_into_torchvision() {
    let dir = support::scratch("export-resnet18");
    let weights = training_checkpoint(StudentArch::Resnet18, &dir);
    lgd_export(&dir, "torchvision", "torchvision.pth");
    let report = report(&dir, StudentArch::Resnet18);
    println!("resnet18: {report}");
    assert_eq!(report["head_keys"], serde_json::json!(["fc.0.bias", "fc.0.weight", "fc.2.bias", "fc.2.weight"]));
    assert_eq!(report["backbone_keys"].as_u64().unwrap() as usize, weights.len() - 4);
    assert!(report["max_feature_diff"].as_f64().unwrap() <= 1e-5, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mobilenet_v2_exports_to_torchvision_mmdet_and_mmseg() {
    let dir = support::scratch("export-mnv2");
    let weights = training_checkpoint(StudentArch::MobilenetV2, &dir);
    lgd_export(&dir, "torchvision", "torchvision.pth");
    lgd_export(&dir, "mmdet-mnv2", "mmdet.pth");
    lgd_export(&dir, "mmseg-mnv2", "mmseg.pth");
    let report = report(&dir, StudentArch::MobilenetV2);
    assert!(report["max_feature_diff"].as_f64().unwrap() <= 1e-5, "{}", report["max_feature_diff"]);

    let backbone: BTreeMap<&String, &Tensor> = weights.iter().filter(|(k, _)| !k.starts_with("classifier.")).collect();
    for layout in ["mmdet", "mmseg"] {
        let keys = report[layout].as_object().unwrap();
        assert_eq!(keys.len(), backbone.len(), "{layout}: every backbone tensor mapped exactly once");
        let mut shapes_in: Vec<Vec<i64>> = backbone.values().map(|t| t.size()).collect();
        let mut shapes_out: Vec<Vec<i64>> =
            keys.values().map(|s| s.as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect()).collect();
        shapes_in.sort();
        shapes_out.sort();
        assert_eq!(shapes_in, shapes_out, "{layout}: shapes preserved");
        let layers: std::collections::BTreeSet<&str> = keys.keys().map(|k| k.split('.').next().unwrap()).collect();
        assert_eq!(
            layers.into_iter().collect::<Vec<_>>(),
            ["conv1", "conv2", "layer1", "layer2", "layer3", "layer4", "layer5", "layer6", "layer7"]
        );
        println!("{layout}: {} tensors, shapes preserved", keys.len());
    }
    assert!(report["mmdet"].get("layer2.0.depthwise_conv.conv.weight").is_some());
    assert!(report["mmseg"].get("layer2.0.conv.1.conv.weight").is_some());
    assert!(report["mmdet"].get("layer1.0.linear_conv.conv.weight").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mmlab_layout_refuses_another_architecture() {
    let dir = support::scratch("export-refuse");
    training_checkpoint(StudentArch::Resnet18, &dir);
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .args(["export", "checkpoint.pth.tar", "--format", "mmdet-mnv2", "--out", "x.pth"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not a MobileNetV2 checkpoint"), "{stderr}");
    assert!(!dir.join("x.pth").exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}
