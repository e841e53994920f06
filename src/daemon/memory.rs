//! Memory figures for the metrics: the process's resident set on the host (does a long run leak?)
//! and, on a GPU, the caching allocator's counts (how close is the run to the card's limit?).

use serde::Serialize;
use tch::Device;

use crate::torch_ext::{gpu_memory, GpuMemory};

/// One sample of the run's memory.
#[derive(Debug, Clone, Serialize)]
pub struct MemorySample {
    /// Resident set size of this process (`VmRSS`), where the system reports one.
    pub host_rss_bytes: Option<u64>,
    /// The GPU's allocator figures; `None` on the CPU.
    pub gpu: Option<GpuMemory>,
}

impl MemorySample {
    /// Reads the figures now. A failing GPU query leaves `gpu` empty (logged at debug level):
    /// memory figures must never stop a run.
    pub fn take(device: Device) -> Self {
        let gpu = gpu_memory(device).unwrap_or_else(|error| {
            tracing::debug!(%error, "GPU memory figures unavailable");
            None
        });
        Self { host_rss_bytes: resident_set_bytes(), gpu }
    }

    /// The TensorBoard scalars (MiB).
    pub fn scalars(&self) -> Vec<(&'static str, f64)> {
        let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
        let mut out = Vec::new();
        if let Some(rss) = self.host_rss_bytes {
            out.push(("memory/host_rss_mib", mib(rss as f64)));
        }
        if let Some(gpu) = self.gpu {
            out.push(("memory/gpu_allocated_mib", mib(gpu.allocated_bytes as f64)));
            out.push(("memory/gpu_peak_allocated_mib", mib(gpu.peak_allocated_bytes as f64)));
            out.push(("memory/gpu_reserved_mib", mib(gpu.reserved_bytes as f64)));
        }
        out
    }
}

/// `VmRSS` from `/proc/self/status` (Linux), in bytes.
fn resident_set_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_set_grows_with_a_touched_allocation() {
        let before = MemorySample::take(Device::Cpu);
        assert!(before.gpu.is_none());
        let start = before.host_rss_bytes.expect("Linux reports VmRSS");
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = MemorySample::take(Device::Cpu).host_rss_bytes.unwrap();
        assert!(after >= start + (60 << 20), "{start} -> {after} after touching 64 MiB");
        drop(block);
        assert_eq!(before.scalars().len(), 1);
    }
}
