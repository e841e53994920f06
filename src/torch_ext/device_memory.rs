//! GPU memory as libtorch's caching allocator counts it, for the metrics of a CUDA run: what the
//! tensors hold now and at their peak, and what the allocator reserved from the driver.

use super::{check, ffi, Result};
use tch::Device;

/// Byte counts of one GPU (`torch.cuda.memory_allocated` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GpuMemory {
    /// Bytes held by live tensors now.
    pub allocated_bytes: i64,
    /// The most bytes live tensors held at once since the process started.
    pub peak_allocated_bytes: i64,
    /// Bytes the allocator holds from the driver now (allocated + cached).
    pub reserved_bytes: i64,
    /// The most it ever held.
    pub peak_reserved_bytes: i64,
}

/// The figures of `device` when it is a GPU; `Ok(None)` on the CPU. An error when libtorch has no
/// accelerator for a CUDA device (a CPU-only build or no GPU).
pub fn gpu_memory(device: Device) -> Result<Option<GpuMemory>> {
    let Device::Cuda(index) = device else { return Ok(None) };
    let mut out = [0i64; 4];
    // SAFETY: `out` holds the four values the extension writes.
    check("accelerator_memory", unsafe { ffi::lgd_ext_accelerator_memory(index as i32, out.as_mut_ptr()) })?;
    let [allocated_bytes, peak_allocated_bytes, reserved_bytes, peak_reserved_bytes] = out;
    Ok(Some(GpuMemory { allocated_bytes, peak_allocated_bytes, reserved_bytes, peak_reserved_bytes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_has_no_gpu_figures_and_a_missing_gpu_is_an_error_not_a_crash() {
        assert_eq!(gpu_memory(Device::Cpu).unwrap(), None);
        if !tch::Cuda::is_available() {
            let error = gpu_memory(Device::Cuda(0)).unwrap_err().to_string();
            assert!(error.starts_with("accelerator_memory: "), "{error}");
        }
    }
}
