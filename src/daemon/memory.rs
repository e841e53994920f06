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
    vm_rss_bytes(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_rss_line_is_read_in_bytes() {
        let status = "Name:\tlgd\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_bytes(status), Some(123456 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tlgd\n"), None);
        assert_eq!(vm_rss_bytes("VmRSS:\tlots kB\n"), None);
    }

    /// RSS is the whole process's, and the other tests of this binary allocate and free on their
    /// own threads at the same time; so the growth is asked of one of a few tries, not of one.
    #[test]
    fn the_resident_set_grows_with_a_touched_allocation() {
        let before = MemorySample::take(Device::Cpu);
        assert!(before.gpu.is_none());
        assert_eq!(before.scalars().len(), 1);
        let mut seen = Vec::new();
        for _ in 0..5 {
            let start = MemorySample::take(Device::Cpu).host_rss_bytes.expect("Linux reports VmRSS");
            let block = std::hint::black_box(vec![1u8; 256 << 20]);
            let after = MemorySample::take(Device::Cpu).host_rss_bytes.unwrap();
            drop(block);
            if after >= start + (240 << 20) {
                return;
            }
            seen.push(format!("{start} -> {after}"));
        }
        panic!("touching 256 MiB never showed in VmRSS: {seen:?}");
    }
}
