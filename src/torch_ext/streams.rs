//! A CUDA stream of its own for a stage's thread (`streams.cpp`), so that the device stage's
//! uploads and teacher forwards can run beside the student's step instead of queueing behind it
//! on the one default stream, and what the hand-over then needs: an event recorded when a batch
//! is ready, waited for on the device by the consumer's stream, and `record_stream` so that the
//! caching allocator does not reuse the batch's memory while the consumer's stream still reads it.
//! On the CPU there are no streams: every function here does nothing.

use std::os::raw::c_int;

use tch::{Device, Tensor};

use super::ffi::{self, LgdEvent};
use super::{check, Result};

/// Moves the calling thread's work on `device` to a stream from libtorch's pool; returns whether
/// it did (false on the CPU).
pub fn use_own_stream(device: Device) -> Result<bool> {
    let Device::Cuda(index) = device else { return Ok(false) };
    // SAFETY: a plain device index; libtorch checks it.
    check("use a stream of its own", unsafe { ffi::lgd_ext_use_own_stream(index as c_int) })?;
    Ok(true)
}

/// An event marking the point where the work queued so far on one thread's stream completes.
#[derive(Debug)]
pub struct ReadyEvent {
    raw: *mut LgdEvent,
    index: c_int,
}

// SAFETY: a CUDA event may be recorded on one thread and waited for on another; the handle is
// only freed by its owner's drop.
unsafe impl Send for ReadyEvent {}

impl ReadyEvent {
    /// Records an event on the calling thread's current stream of `device`; `None` on the CPU,
    /// where work is done when the call returns.
    pub fn record(device: Device) -> Result<Option<Self>> {
        let Device::Cuda(index) = device else { return Ok(None) };
        let mut raw = std::ptr::null_mut();
        // SAFETY: a valid out pointer; on success it holds a new event that this value owns.
        check("record an event", unsafe { ffi::lgd_ext_event_record(index as c_int, &mut raw) })?;
        Ok(Some(Self { raw, index: index as c_int }))
    }

    /// Makes the calling thread's current stream wait (on the device) until the event completes.
    pub fn wait_on_current_stream(&self) -> Result<()> {
        // SAFETY: `raw` is a live event owned by self.
        check("wait for an event", unsafe { ffi::lgd_ext_event_block(self.raw, self.index) })
    }
}

impl Drop for ReadyEvent {
    fn drop(&mut self) {
        // SAFETY: made by `lgd_ext_event_record`, freed exactly once.
        unsafe { ffi::lgd_ext_event_free(self.raw) }
    }
}

/// Marks `tensor` (on a CUDA device) as used by the calling thread's current stream, so that its
/// memory outlives the work queued there; nothing to do for a CPU tensor.
pub fn keep_for_current_stream(tensor: &Tensor) -> Result<()> {
    if !tensor.device().is_cuda() {
        return Ok(());
    }
    // SAFETY: a live tensor handle.
    check("record_stream", unsafe { ffi::lgd_ext_record_stream(tensor.as_ptr()) })
}

#[cfg(test)]
mod tests {
    use tch::Kind;

    use super::*;

    #[test]
    fn on_the_cpu_there_is_nothing_to_order() {
        assert!(!use_own_stream(Device::Cpu).unwrap());
        assert!(ReadyEvent::record(Device::Cpu).unwrap().is_none());
        keep_for_current_stream(&Tensor::zeros([2], (Kind::Float, Device::Cpu))).unwrap();
    }
}
