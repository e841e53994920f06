//! What `lgd train` wrote leaves the system: for every student architecture, a run trained by the
//! binary is exported (`--format torchvision` from the run folder, `--format safetensors` from the
//! step checkpoint), and torchvision loads each file with `strict=True` (classifier replaced by
//! Identity, as the docs say) and computes the same pooled features as lgd's own `lgd eval` path.
//! The original LGD's checkpoint layout still exports; the head is left out unless asked for.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use lgd::models::state_dict::state_dict;
use lgd::models::student::{Student, StudentArch, StudentOptions};
use lgd::weights::torch_writer::{write_torch_file, SaveValue};
use serde_json::{json, Value};
use support::trained_run::{lgd_features, newest_checkpoint, train_student};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn lgd_export(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lgd")).arg("export").args(args).current_dir(dir).output().unwrap()
}

fn exported(dir: &Path, args: &[&str]) -> String {
    let output = lgd_export(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "lgd export {args:?}: {stderr}");
    stderr
}

/// Runs the torchvision oracle over `cases` ({file, arch, input}); its report, one entry per case.
fn torchvision_report(dir: &Path, cases: &Value) -> Vec<Value> {
    std::fs::write(dir.join("cases.json"), cases.to_string()).unwrap();
    support::run_oracle("export_oracle.py", &[&dir.join("cases.json"), &dir.join("report.json")]);
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn every_trained_student_exports_and_loads_strictly_in_torchvision() {
    let dir = support::scratch("export-trained");
    let mut cases = Vec::new();
    for arch in StudentArch::ALL {
        let name = arch.torchvision_name();
        let arch_dir = dir.join(name);
        std::fs::create_dir_all(&arch_dir).unwrap();
        let run = train_student(&arch_dir, arch);
        let checkpoint = newest_checkpoint(&run);
        lgd_features(&checkpoint, &arch_dir.join("input.safetensors"));

        let log = exported(&arch_dir, &["run", "--format", "torchvision", "--out", "tv.pth"]);
        let head = arch.head_prefix();
        assert!(
            log.contains(&format!(
                "left out the LGD projection head ({head}.0.bias, {head}.0.weight, {head}.2.bias, {head}.2.weight)"
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "{name}(); m.{head} = torch.nn.Identity(); m.load_state_dict(torch.load('tv.pth', weights_only=True))"
            )),
            "{log}"
        );
        exported(&arch_dir, &[checkpoint.to_str().unwrap(), "--format", "safetensors", "--out", "tv.safetensors"]);
        for file in ["tv.pth", "tv.safetensors"] {
            cases.push(json!({"file": arch_dir.join(file), "arch": name, "input": arch_dir.join("input.safetensors")}));
        }
    }
    let report = torchvision_report(&dir, &Value::Array(cases));
    for case in &report {
        println!("{case}");
        assert_eq!(case["head_keys"], json!([]), "backbone only by default: {case}");
        assert!(case["max_feature_diff"].as_f64().unwrap() <= 1e-5, "{case}");
        assert!(
            case["feature_spread"].as_f64().unwrap() > 1e-4,
            "features that vary, or equality proves little: {case}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn best_checkpoint_exports_with_its_head_on_request() {
    let dir = support::scratch("export-best-head");
    let run = train_student(&dir, StudentArch::MobilenetV2);
    // best.safetensors is a verified checkpoint file like the step files; copying the newest one
    // under that name stands in for a run with validation (tests/best_checkpoint_kept.rs).
    let best = run.join("checkpoints/best.safetensors");
    std::fs::copy(newest_checkpoint(&run), &best).unwrap();
    lgd_features(&best, &dir.join("input.safetensors"));
    let log =
        exported(&dir, &["run/checkpoints/best.safetensors", "--format", "torchvision", "--out", "head.pth", "--head"]);
    assert!(!log.contains("left out"), "{log}");
    assert!(log.contains("if not k.startswith('lgd_head.')"), "the load line sets the head aside: {log}");
    let cases = json!([{"file": dir.join("head.pth"), "arch": "mobilenet_v2", "input": dir.join("input.safetensors")}]);
    let report = &torchvision_report(&dir, &cases)[0];
    assert_eq!(
        report["head_keys"],
        json!(["lgd_head.0.bias", "lgd_head.0.weight", "lgd_head.2.bias", "lgd_head.2.weight"])
    );
    assert_eq!(report["head_shapes"]["lgd_head.0.weight"], json!([1280, 1280]));
    assert!(report["max_feature_diff"].as_f64().unwrap() <= 1e-5, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A checkpoint as the original LGD training code saves one (`module.student.*` beside the teacher).
fn original_lgd_checkpoint(arch: StudentArch, dir: &Path) -> BTreeMap<String, Tensor> {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let _student = Student::new(&vs.root(), arch, 64, StudentOptions::default());
    let weights = state_dict(&vs);
    let teacher = Tensor::zeros([4, 4], (Kind::Float, Device::Cpu));
    let mut state: BTreeMap<String, SaveValue> =
        weights.iter().map(|(k, t)| (format!("module.student.{k}"), SaveValue::Tensor(t))).collect();
    state.insert("module.teacher.proj".into(), SaveValue::Tensor(&teacher));
    let root = SaveValue::Dict(BTreeMap::from([("state_dict".to_owned(), SaveValue::Dict(state))]));
    write_torch_file(&dir.join("checkpoint.pth.tar"), &root).unwrap();
    weights
}

#[test]
fn the_original_lgd_layout_still_exports_its_backbone() {
    let dir = support::scratch("export-original");
    let weights = original_lgd_checkpoint(StudentArch::Resnet18, &dir);
    let log = exported(&dir, &["checkpoint.pth.tar", "--format", "torchvision", "--out", "tv.pth"]);
    assert!(log.contains(&format!("{} tensors", weights.len() - 4)), "{log}");
    // mmdetection's ResNet takes torchvision's names: the same backbone, wrapped in `state_dict`.
    let log = exported(&dir, &["checkpoint.pth.tar", "--format", "mmdet", "--out", "det.pth"]);
    assert!(
        log.contains("backbone=dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained', checkpoint='det.pth'))"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exports_that_would_not_load_are_refused_and_write_nothing() {
    let dir = support::scratch("export-refused");
    let weights = original_lgd_checkpoint(StudentArch::EfficientnetB0, &dir);
    let refused = |args: &[&str], out: &str, expected: &str| {
        let output = lgd_export(&dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: `{expected}` not in: {stderr}");
        assert!(!dir.join(out).exists(), "{args:?} wrote {out}");
    };
    refused(
        &["checkpoint.pth.tar", "--format", "mmseg", "--out", "seg.pth"],
        "seg.pth",
        "mmseg takes ResNet-18/34/50 and MobileNetV2 students, not efficientnet_b0",
    );

    // A stray tensor: no architecture has it, so no file would load strictly.
    let mut state: BTreeMap<String, SaveValue> =
        weights.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect();
    let stray = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    state.insert("features.1.0.block.9.weight".into(), SaveValue::Tensor(&stray));
    write_torch_file(&dir.join("stray.pth"), &SaveValue::Dict(state)).unwrap();
    refused(
        &["stray.pth", "--format", "torchvision", "--out", "stray-tv.pth"],
        "stray-tv.pth",
        "does not fit the efficientnet_b0 student: `features.1.0.block.9.weight` is not a variable of torchvision's efficientnet_b0",
    );

    // A tensor gone: the same, naming it.
    let mut state: BTreeMap<String, SaveValue> =
        weights.iter().map(|(k, t)| (k.clone(), SaveValue::Tensor(t))).collect();
    state.remove("features.8.1.running_var");
    write_torch_file(&dir.join("short.pth"), &SaveValue::Dict(state)).unwrap();
    refused(
        &["short.pth", "--format", "safetensors", "--out", "short.safetensors"],
        "short.safetensors",
        "`features.8.1.running_var` of torchvision's efficientnet_b0 is missing",
    );

    // A backbone alone has no head to keep; a folder without checkpoints has nothing to export.
    exported(&dir, &["checkpoint.pth.tar", "--format", "torchvision", "--out", "backbone.pth"]);
    refused(
        &["backbone.pth", "--format", "torchvision", "--out", "again.pth", "--head"],
        "again.pth",
        "--head: the checkpoint holds no head under `classifier.*`",
    );
    std::fs::create_dir_all(dir.join("empty-run")).unwrap();
    refused(
        &["empty-run", "--format", "torchvision", "--out", "none.pth"],
        "none.pth",
        "empty-run: no checkpoint to export",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
