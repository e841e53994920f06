//! Batches assembled straight into libtorch tensors: the data pipeline's assembler writes each
//! sample into the tensor's storage, and the device stage takes the tensor as it is. For a GPU the
//! storage is page-locked, so the upload is one asynchronous copy from where the batch was built;
//! on the CPU it saves the copy into a tensor. [`upload`] is that copy for any host tensor.

use lgd_actors::batch_memory::{AllocError, BatchMemory, Element, HostBuffer};
use tch::{Device, Tensor};

use super::{check, ffi, Result};

/// Hands out host tensors, page-locked when `pinned`.
#[derive(Debug, Clone, Copy)]
pub struct TensorMemory {
    pinned: bool,
}

impl TensorMemory {
    /// The memory batches bound for `device` are best assembled in: page-locked for a GPU.
    pub fn for_device(device: Device) -> Self {
        Self { pinned: matches!(device, Device::Cuda(_)) }
    }

    /// Whether the tensors are page-locked.
    pub fn pinned(&self) -> bool {
        self.pinned
    }
}

/// A host tensor on `device`. To a GPU it goes from page-locked memory (where a batch was
/// assembled, or a copy when it was not) and the copy is queued without waiting for it (libtorch
/// keeps the pinned block until the copy has run), so the host thread is free while the bytes
/// travel; the kernels that use them are queued after the copy. Small per-batch values (view
/// indices, factors, blur taps, cached teacher rows) go this way too: a plain copy from pageable
/// memory waits for everything queued on the stream before it, on the shared stream the
/// student's step.
pub fn upload(host: Tensor, device: Device) -> Tensor {
    match device {
        Device::Cuda(_) => {
            let pinned = if host.f_is_pinned(device).unwrap_or(false) { host } else { host.pin_memory(device) };
            pinned.to_device_(device, pinned.kind(), true, false)
        }
        _ => host.to_device(device),
    }
}

/// An uninitialised 1-D host tensor of `numel` elements, page-locked when `pinned`.
pub fn empty_host(element: Element, numel: i64, pinned: bool) -> Result<Tensor> {
    // c10::ScalarType's codes: Byte = 0, Float = 6.
    let scalar_type = match element {
        Element::F32 => 6,
        Element::U8 => 0,
    };
    let mut out = std::ptr::null_mut();
    // SAFETY: plain values in, and on success `out` is a new heap tensor that we own and hand to
    // tch, which frees it on drop.
    check("empty_host", unsafe { ffi::lgd_ext_empty_host(numel, scalar_type, i32::from(pinned), &mut out) })?;
    Ok(unsafe { Tensor::from_ptr(out) })
}

impl BatchMemory for TensorMemory {
    fn allocate(&self, element: Element, count: usize) -> std::result::Result<HostBuffer, AllocError> {
        let memory = if self.pinned { "page-locked tensor" } else { "host tensor" };
        let tensor = empty_host(element, count as i64, self.pinned).map_err(|e| AllocError {
            memory,
            element,
            count,
            source: Box::new(e),
        })?;
        let data = tensor.data_ptr().cast::<u8>();
        // SAFETY: a fresh contiguous tensor of `count` elements of this type, aligned by libtorch's
        // allocators (64 bytes and up); the tensor travels with the buffer as its owner, and no
        // other handle to it exists until the device stage takes it back from the owner.
        Ok(unsafe { HostBuffer::from_owner(Box::new(tensor), data, element, count) })
    }
}

#[cfg(test)]
mod tests {
    use tch::Kind;

    use super::*;

    #[test]
    fn the_buffer_is_the_tensor_s_storage() {
        let memory = TensorMemory::for_device(Device::Cpu);
        assert!(!memory.pinned());
        let mut buffer = memory.allocate(Element::F32, 6).unwrap();
        buffer.as_mut_slice::<f32>().unwrap().copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let tensor = buffer.owner::<Tensor>().expect("a tensor owns the memory");
        assert_eq!((tensor.kind(), tensor.size()), (Kind::Float, vec![6]));
        assert_eq!(Vec::<f32>::try_from(tensor).unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let bytes = memory.allocate(Element::U8, 5).unwrap();
        assert_eq!(bytes.owner::<Tensor>().map(Tensor::kind), Some(Kind::Uint8));
    }

    #[test]
    fn page_locked_memory_without_a_gpu_is_an_error_that_says_so() {
        if tch::Cuda::is_available() {
            return; // the refusal exists only where no GPU can lock pages
        }
        let error = TensorMemory::for_device(Device::Cuda(0)).allocate(Element::F32, 4).unwrap_err().to_string();
        assert!(error.starts_with("page-locked tensor of 4 F32 values: empty_host: "), "{error}");
    }
}
