//! mmdetection 3.3.0 and mmsegmentation 1.2.2 load what `lgd export --format mmdet|mmseg` writes
//! into their own `ResNet` / `MobileNetV2` classes — strictly, and the way a config does
//! (`init_cfg=dict(type='Pretrained', …)`) — and every stage they return equals the torchvision
//! stage it mirrors (tests/oracle/export_mmlab_oracle.py; how mmdet/mmseg are imported on a CPU
//! machine with mmcv-lite is explained in tests/oracle/mmlab_on_cpu.py).
//!
//! Two sources: students trained by `lgd train` (exported from the run folder), and torchvision
//! networks with random BN affine parameters and running statistics, so a wrong mapping cannot hide
//! behind near-identity BatchNorms. The oracle also swaps two same-shaped tensors of neighbouring
//! blocks and requires the comparison to fail then.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use lgd::models::student::StudentArch;
use serde_json::{json, Value};
use support::trained_run::{lgd_features, newest_checkpoint, train_student};

/// `lgd export SOURCE --format F --out DIR/PREFIX-F.pth` for torchvision, mmdet and mmseg; the log.
fn export_all(dir: &Path, source: &Path, prefix: &str) -> String {
    let mut log = String::new();
    for format in ["torchvision", "mmdet", "mmseg"] {
        let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
            .arg("export")
            .arg(source)
            .args(["--format", format, "--out"])
            .arg(dir.join(format!("{prefix}-{format}.pth")))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "export {prefix} as {format}: {stderr}");
        log.push_str(&stderr);
    }
    log
}

fn case(dir: &Path, prefix: &str, arch: &str) -> Value {
    let file = |format: &str| dir.join(format!("{prefix}-{format}.pth"));
    json!({"reference": file("torchvision"), "arch": arch, "mmdet": file("mmdet"), "mmseg": file("mmseg")})
}

/// Runs the mmlab oracle over `cases` and holds every entry of its report to the bounds.
fn mmlab_check(dir: &Path, cases: Vec<Value>) {
    std::fs::write(dir.join("cases.json"), Value::Array(cases).to_string()).unwrap();
    support::run_oracle(
        "export_mmlab_oracle.py",
        &[Path::new("check"), &dir.join("cases.json"), &dir.join("report.json")],
    );
    let report: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    for entry in &report {
        println!("{entry}");
        check_report(entry);
    }
}

fn check_report(entry: &Value) {
    let arch = entry["arch"].as_str().unwrap();
    for (library, stages) in
        [("mmdet", if arch == "mobilenet_v2" { 8 } else { 4 }), ("mmseg", if arch == "mobilenet_v2" { 7 } else { 4 })]
    {
        let result = &entry[library];
        assert_eq!(result["stages"], json!(stages), "{arch} {library}: every stage compared: {result}");
        for how in ["max_diff_init_cfg", "max_diff_strict"] {
            assert!(result[how].as_f64().unwrap() <= 1e-5, "{arch} {library} {how}: {result}");
        }
        assert!(
            result["max_diff_with_swapped_tensors"].as_f64().unwrap() > 1e-3,
            "{arch} {library}: the check must see a broken mapping: {result}"
        );
    }
}

#[test]
fn trained_students_load_in_mmdet_and_mmseg_backbones() {
    let dir = support::scratch("export-mmlab-trained");
    let mut cases = Vec::new();
    let mut torchvision = Vec::new();
    for arch in [StudentArch::Resnet18, StudentArch::MobilenetV2] {
        let name = arch.torchvision_name();
        let arch_dir: PathBuf = dir.join(name);
        std::fs::create_dir_all(&arch_dir).unwrap();
        let run = train_student(&arch_dir, arch);
        let log = export_all(&arch_dir, &run, "trained");
        if arch == StudentArch::MobilenetV2 {
            assert!(
                log.contains("left out features.18.* (6 tensors): mmsegmentation's MobileNetV2 ends at layer7"),
                "{log}"
            );
        }
        lgd_features(&newest_checkpoint(&run), &arch_dir.join("input.safetensors"));
        torchvision.push(json!({"file": arch_dir.join("trained-torchvision.pth"), "arch": name, "input": arch_dir.join("input.safetensors")}));
        cases.push(case(&arch_dir, "trained", name));
    }
    // The reference the mm stages are held to is itself lgd's network: same pooled features.
    std::fs::write(dir.join("tv-cases.json"), Value::Array(torchvision).to_string()).unwrap();
    support::run_oracle("export_oracle.py", &[&dir.join("tv-cases.json"), &dir.join("tv-report.json")]);
    let tv: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("tv-report.json")).unwrap()).unwrap();
    for entry in &tv {
        assert!(entry["max_feature_diff"].as_f64().unwrap() <= 1e-5, "{entry}");
    }

    mmlab_check(&dir, cases);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torchvision_backbones_with_random_batch_norms_map_exactly() {
    let dir = support::scratch("export-mmlab-random-bn");
    let archs = ["resnet18", "resnet50", "mobilenet_v2"];
    let mut args = vec![Path::new("source"), dir.as_path()];
    args.extend(archs.iter().map(Path::new));
    support::run_oracle("export_mmlab_oracle.py", &args);
    let mut cases = Vec::new();
    for arch in archs {
        export_all(&dir, &dir.join(format!("{arch}-source.pth")), arch);
        let mut entry = case(&dir, arch, arch);
        entry["reference"] = json!(dir.join(format!("{arch}-source.pth")));
        cases.push(entry);
    }
    mmlab_check(&dir, cases);
    std::fs::remove_dir_all(&dir).unwrap();
}
