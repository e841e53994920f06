//! The `lgd` binary keeps `libtorch_cuda.so` (the linker's `--as-needed` would drop it and CUDA
//! would be "not available"), runs with no environment variables through its run path, and still
//! lets `LD_LIBRARY_PATH` choose another libtorch (as on a GPU machine with its own torch 2.11).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn dynamic_section(binary: &Path) -> String {
    let output = Command::new("readelf").arg("-d").arg(binary).output().expect("readelf (binutils) runs");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn info(envs: &[(&str, &Path)]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_lgd"))
        .arg("info")
        .env_clear()
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .output()
        .unwrap();
    assert!(output.status.success(), "lgd info failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn binary_needs_libtorch_cuda_and_carries_a_runpath() {
    let dynamic = dynamic_section(Path::new(env!("CARGO_BIN_EXE_lgd")));
    assert!(dynamic.contains("Shared library: [libtorch_cuda.so]"), "{dynamic}");
    let runpath = dynamic.lines().find(|l| l.contains("(RUNPATH)")).expect("a RUNPATH entry, not RPATH");
    assert!(runpath.contains("torch/lib"), "{runpath}");
}

#[test]
fn binary_runs_with_an_empty_environment() {
    let info = info(&[]);
    let loaded = info["loaded_libtorch_cpu"].as_str().expect("libtorch_cpu.so is mapped");
    assert!(loaded.starts_with(info["build_libtorch"].as_str().unwrap()), "{info}");
    assert!(info["loaded_libtorch_cuda"].is_string(), "libtorch_cuda.so is loaded: {info}");
}

#[test]
fn ld_library_path_takes_precedence_over_the_runpath() {
    // A second libtorch tree made of hard links (same files, another path), laid out like a wheel so
    // that libtorch's own `$ORIGIN/../../nvidia` run paths resolve there too.
    let build_lib = PathBuf::from(info(&[])["build_libtorch"].as_str().unwrap());
    let other = support::root().join("target/ld-library-path-test");
    let _ = std::fs::remove_dir_all(&other);
    let lib = other.join("site-packages/torch/lib");
    std::fs::create_dir_all(&lib).unwrap();
    for entry in std::fs::read_dir(&build_lib).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::hard_link(entry.path(), lib.join(entry.file_name()))
                .expect("hard-linking libtorch (target/ and .venv must share a filesystem)");
        }
    }
    std::os::unix::fs::symlink(build_lib.join("../../nvidia"), other.join("site-packages/nvidia")).unwrap();

    let info = info(&[("LD_LIBRARY_PATH", &lib)]);
    let loaded = info["loaded_libtorch_cpu"].as_str().unwrap();
    assert!(loaded.starts_with(lib.to_str().unwrap()), "LD_LIBRARY_PATH ignored: loaded {loaded}");
    std::fs::remove_dir_all(&other).unwrap();
}
