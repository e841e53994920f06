//! What the running process actually got: the libtorch files the loader picked (run path or
//! `LD_LIBRARY_PATH`), and the devices libtorch sees. Printed by `lgd info` to diagnose set-ups.

use std::path::PathBuf;

/// Facts about the loaded libtorch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeInfo {
    /// lgd's version.
    pub lgd_version: &'static str,
    /// The libtorch folder the binary was linked against (its run path).
    pub build_libtorch: &'static str,
    /// The `libtorch_cpu.so` actually mapped into this process.
    pub loaded_libtorch_cpu: Option<PathBuf>,
    /// The `libtorch_cuda.so` actually mapped, if any.
    pub loaded_libtorch_cuda: Option<PathBuf>,
    /// Whether CUDA is usable.
    pub cuda_available: bool,
    /// Number of visible CUDA devices.
    pub cuda_devices: i64,
    /// Whether cuDNN is usable.
    pub cudnn_available: bool,
    /// Intra-op CPU threads.
    pub cpu_threads: i32,
}

/// Collects the facts (forces CUDA initialisation, which is what makes libtorch_cuda load).
pub fn collect() -> RuntimeInfo {
    let cuda_available = tch::Cuda::is_available();
    let cuda_devices = tch::Cuda::device_count();
    let cudnn_available = tch::Cuda::cudnn_is_available();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mapped = |name: &str| {
        maps.lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.rsplit('/').next() == Some(name))
            .map(PathBuf::from)
    };
    RuntimeInfo {
        lgd_version: env!("CARGO_PKG_VERSION"),
        build_libtorch: env!("LGD_BUILD_LIBTORCH_LIB"),
        loaded_libtorch_cpu: mapped("libtorch_cpu.so"),
        loaded_libtorch_cuda: mapped("libtorch_cuda.so"),
        cuda_available,
        cuda_devices,
        cudnn_available,
        cpu_threads: tch::get_num_threads(),
    }
}
