//! What libtorch offers and tch does not expose, through the small C++ extension beside this file:
//! channels_last conversion (of one tensor, or in place of every 4-D variable of a module) and the
//! autocast dtype (fp16 or bf16) on CPU and CUDA, with a scope guard that restores the old state;
//! and every parameter *and buffer* of a TorchScript archive (tch lists parameters only); the
//! GPU caching allocator's memory figures ([`device_memory`]); host tensors in page-locked memory
//! for batches to be assembled in ([`tensor_memory`]); the fused SGD update and the gradient
//! scaler's unscale-and-check, which leave a skipped step to the device ([`optimizer_kernels`]);
//! a stream of its own for a stage's thread and the events that hand work over ([`streams`]).

mod device_memory;
mod ffi;
mod libtorch_log;
mod optimizer_kernels;
mod streams;
mod tensor_memory;

pub use device_memory::{gpu_memory, GpuMemory};
pub use libtorch_log::{parse_libtorch_line, provoke_libtorch_warning, route_libtorch_log, LibtorchLine};
pub use optimizer_kernels::{clear_gradients, fused_sgd, unscale_and_check, SgdUpdate};
pub use streams::{keep_for_current_stream, use_own_stream, ReadyEvent};
pub use tensor_memory::{upload, TensorMemory};

use std::ffi::CStr;
use std::os::raw::c_int;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A failure reported by libtorch through the extension.
#[derive(Debug, thiserror::Error)]
pub enum TorchExtError {
    /// libtorch threw; the message is libtorch's.
    #[error("{operation}: {message}")]
    Libtorch {
        /// Which extension call failed.
        operation: &'static str,
        /// The C++ exception text.
        message: String,
    },
    /// channels_last is only defined for 4-D (N, C, H, W) tensors.
    #[error("channels_last needs a 4-D tensor, got shape {shape:?}")]
    NotFourDimensional {
        /// The shape that was given.
        shape: Vec<i64>,
    },
    /// Autocast runs in float16 or bfloat16 only.
    #[error("autocast dtype must be Half or BFloat16, got {0:?}")]
    UnsupportedAutocastKind(Kind),
    /// Autocast is set for CPU or CUDA devices only.
    #[error("autocast is not available for device {0:?}")]
    UnsupportedAutocastDevice(Device),
}

type Result<T> = std::result::Result<T, TorchExtError>;

pub(crate) fn check(operation: &'static str, status: c_int) -> Result<()> {
    if status == 0 {
        return Ok(());
    }
    // SAFETY: the extension returns a pointer to its thread-local, NUL-terminated error string,
    // valid until the next failing call on this thread; we copy it out at once.
    let message = unsafe { CStr::from_ptr(ffi::lgd_ext_last_error()) }.to_string_lossy().into_owned();
    Err(TorchExtError::Libtorch { operation, message })
}

/// Every parameter and buffer of the TorchScript archive at `path`, by dotted path
/// (`visual.bn1.running_mean`), on the CPU in the archive's dtypes.
pub fn jit_named_tensors(path: &std::path::Path) -> Result<Vec<(String, Tensor)>> {
    extern "C" fn collect(
        context: *mut std::ffi::c_void,
        name: *const std::os::raw::c_char,
        tensor: *mut torch_sys::C_tensor,
    ) {
        // SAFETY: `context` is the Vec passed below, alive for the call; `name` is a NUL-terminated
        // string valid during this callback; `tensor` is a fresh handle whose ownership we take.
        let out = unsafe { &mut *(context as *mut Vec<(String, Tensor)>) };
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
        out.push((name, unsafe { Tensor::from_ptr(tensor) }));
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| TorchExtError::Libtorch {
        operation: "jit_named_tensors",
        message: format!("{}: path contains a NUL byte", path.display()),
    })?;
    let mut out: Vec<(String, Tensor)> = Vec::new();
    // SAFETY: the callback only touches `out`, which outlives the call.
    let status = unsafe {
        ffi::lgd_ext_jit_named_tensors(c_path.as_ptr(), &mut out as *mut _ as *mut std::ffi::c_void, collect)
    };
    check("jit_named_tensors", status)?;
    Ok(out)
}

fn ensure_four_dimensional(tensor: &Tensor) -> Result<()> {
    match tensor.dim() {
        4 => Ok(()),
        _ => Err(TorchExtError::NotFourDimensional { shape: tensor.size() }),
    }
}

/// A channels_last (N, H, W, C in memory) version of a 4-D tensor; shares storage when it already is.
pub fn to_channels_last(tensor: &Tensor) -> Result<Tensor> {
    ensure_four_dimensional(tensor)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: `tensor.as_ptr()` is a live `at::Tensor*`; on success `out` is a new heap tensor that
    // we own and hand to tch, which frees it on drop.
    check("to_channels_last", unsafe { ffi::lgd_ext_channels_last_copy(tensor.as_ptr(), &mut out) })?;
    Ok(unsafe { Tensor::from_ptr(out) })
}

/// Whether a tensor is laid out channels_last-contiguous.
pub fn is_channels_last(tensor: &Tensor) -> Result<bool> {
    let mut out = 0;
    // SAFETY: a live tensor handle and a valid out pointer.
    check("is_channels_last", unsafe { ffi::lgd_ext_is_channels_last(tensor.as_ptr(), &mut out) })?;
    Ok(out != 0)
}

/// Converts every 4-D parameter and buffer of a module to channels_last in place, keeping tensor
/// identity (optimisers holding them see the new layout). Returns how many were converted.
pub fn module_to_channels_last(vars: &VarStore) -> Result<usize> {
    let mut converted = 0;
    for (_, mut tensor) in vars.variables() {
        if tensor.dim() == 4 {
            // SAFETY: `variables()` returns shallow copies sharing the module's TensorImpl;
            // `set_data` swaps that impl's storage, which is exactly the in-place effect wanted.
            check("module_to_channels_last", unsafe { ffi::lgd_ext_channels_last_in_place(tensor.as_mut_ptr()) })?;
            converted += 1;
        }
    }
    Ok(converted)
}

fn autocast_device_code(device: Device) -> Result<c_int> {
    match device {
        Device::Cpu => Ok(0),
        Device::Cuda(_) => Ok(1),
        other => Err(TorchExtError::UnsupportedAutocastDevice(other)),
    }
}

fn kind_code(kind: Kind) -> Result<c_int> {
    match kind {
        Kind::Half => Ok(5),
        Kind::BFloat16 => Ok(15),
        other => Err(TorchExtError::UnsupportedAutocastKind(other)),
    }
}

fn kind_of_code(code: c_int) -> Result<Kind> {
    match code {
        5 => Ok(Kind::Half),
        15 => Ok(Kind::BFloat16),
        6 => Ok(Kind::Float),
        other => Err(TorchExtError::Libtorch {
            operation: "autocast_dtype",
            message: format!("unexpected autocast scalar type code {other}"),
        }),
    }
}

/// Chooses the low-precision dtype autocast uses on a device type (libtorch's default: fp16 on CUDA,
/// bf16 on CPU). Process-wide, as in libtorch.
pub fn set_autocast_dtype(device: Device, kind: Kind) -> Result<()> {
    let (device, kind) = (autocast_device_code(device)?, kind_code(kind)?);
    // SAFETY: plain integers in, status out.
    check("set_autocast_dtype", unsafe { ffi::lgd_ext_autocast_set_dtype(device, kind) })
}

/// The low-precision dtype autocast currently uses on a device type.
pub fn autocast_dtype(device: Device) -> Result<Kind> {
    let mut out = 0;
    // SAFETY: a valid out pointer.
    check("autocast_dtype", unsafe { ffi::lgd_ext_autocast_dtype(autocast_device_code(device)?, &mut out) })?;
    kind_of_code(out)
}

/// Whether autocast is on for a device type on this thread.
pub fn autocast_enabled(device: Device) -> Result<bool> {
    let mut out = 0;
    // SAFETY: a valid out pointer.
    check("autocast_enabled", unsafe { ffi::lgd_ext_autocast_is_enabled(autocast_device_code(device)?, &mut out) })?;
    Ok(out != 0)
}

/// Autocast on a device type in `kind` until dropped; then the previous state (enabled flag and
/// dtype) comes back and, leaving the outermost region, the cast cache is freed.
#[must_use = "autocast ends when the guard is dropped"]
pub struct AutocastGuard {
    device: Device,
    was_enabled: bool,
    previous_kind: Kind,
}

impl AutocastGuard {
    /// Enters autocast for `device`'s type with `kind` (Half or BFloat16).
    pub fn new(device: Device, kind: Kind) -> Result<Self> {
        let was_enabled = autocast_enabled(device)?;
        let previous_kind = autocast_dtype(device)?;
        set_autocast_dtype(device, kind)?;
        let code = autocast_device_code(device)?;
        // SAFETY: integers in, status out.
        check("autocast_enter", unsafe { ffi::lgd_ext_autocast_set_enabled(code, 1) })?;
        check("autocast_enter", unsafe { ffi::lgd_ext_autocast_enter() })?;
        Ok(Self { device, was_enabled, previous_kind })
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // Restoring cannot fail for a device code and dtype that were accepted on entry.
        let code = autocast_device_code(self.device).unwrap_or(0);
        // SAFETY: integers in, status out; errors here would only mean libtorch state is unchanged.
        unsafe {
            ffi::lgd_ext_autocast_exit();
            ffi::lgd_ext_autocast_set_enabled(code, c_int::from(self.was_enabled));
        }
        if matches!(self.previous_kind, Kind::Half | Kind::BFloat16) {
            let _ = set_autocast_dtype(self.device, self.previous_kind);
        }
    }
}

#[cfg(test)]
mod tests;
