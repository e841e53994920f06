//! Students trained by the real `lgd train` (a few CPU steps on a tiny image folder, supervised
//! Lite0 teacher), for the tests that take what training wrote to its consumers.

use std::path::{Path, PathBuf};

use lgd::checkpoint::list_checkpoints;
use lgd::eval::measure::{load_student, StudentSource};
use lgd::models::student::StudentArch;
use lgd::tensor_io::write_safetensors;
use tch::{Device, Kind, Tensor};

/// Trains `arch` for 2 epochs of 2 steps into `dir/run` (`dir/data`, `dir/run.toml` laid out here);
/// returns the run folder.
pub fn train_student(dir: &Path, arch: StudentArch) -> PathBuf {
    super::write_image_folder(&dir.join("data"), &["a", "b"], 4);
    let config = super::daemon::cpu_config(dir, 2, "")
        .replace("arch = \"resnet18\"", &format!("arch = \"{}\"", arch.torchvision_name()))
        .replace("every_epochs = 0", "every_epochs = 1");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let trained = super::daemon::train_to_end(dir);
    assert!(trained.status.success(), "lgd train {arch:?}: {}", String::from_utf8_lossy(&trained.stderr));
    dir.join("run")
}

/// The newest step checkpoint of a run folder.
pub fn newest_checkpoint(run: &Path) -> PathBuf {
    list_checkpoints(run).pop().unwrap_or_else(|| panic!("{}: no checkpoint", run.display()))
}

/// Writes `out` with images `x` [3, 3, 64, 64] and lgd's own pooled features of them, computed the
/// way `lgd eval` computes a checkpoint's backbone features.
pub fn lgd_features(checkpoint: &Path, out: &Path) {
    let loaded = load_student(&StudentSource::Checkpoint(checkpoint.into()), Device::Cpu).unwrap();
    tch::manual_seed(11);
    let x = Tensor::randn([3, 3, 64, 64], (Kind::Float, Device::Cpu));
    let features = tch::no_grad(|| loaded.student.features(&x, false));
    write_safetensors(out, &[("x", &x), ("features", &features)], &Default::default()).unwrap();
}
