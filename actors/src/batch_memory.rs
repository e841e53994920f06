//! Where the assembler writes a batch's pixels. By default that is the heap; a training run gives
//! the pipeline buffers that belong to libtorch tensors (page-locked when the device is a GPU,
//! made in `src/`), so the device stage uploads the batch from where it was assembled, with no
//! copy into a tensor and none into page-locked memory on the way.

use std::any::Any;
use std::fmt::Debug;

/// The element type of a batch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// Normalised pixels.
    F32,
    /// Raw u8 views.
    U8,
}

impl Element {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::U8 => 1,
        }
    }
}

/// A pixel type a buffer can be read as.
pub trait Pixel: Copy + 'static {
    /// The matching element type.
    const ELEMENT: Element;
}

impl Pixel for f32 {
    const ELEMENT: Element = Element::F32;
}

impl Pixel for u8 {
    const ELEMENT: Element = Element::U8;
}

/// One batch's pixel memory: `count` elements of one type, kept alive by its owner (a `Vec`, or
/// a tensor whose storage it is).
pub struct HostBuffer {
    data: *mut u8,
    element: Element,
    count: usize,
    owner: Box<dyn Any + Send>,
}

// SAFETY: `data` points into memory that `owner` (which is `Send`) keeps alive and that nothing
// else refers to; moving the buffer to another thread moves the owner with it.
unsafe impl Send for HostBuffer {}
// SAFETY: shared access only reads through `data`; writing needs `&mut self`.
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    /// `count` zeroed elements on the heap.
    pub fn heap(element: Element, count: usize) -> Self {
        match element {
            Element::F32 => {
                let mut values = vec![0.0f32; count];
                let data = values.as_mut_ptr().cast::<u8>();
                Self { data, element, count, owner: Box::new(values) }
            }
            Element::U8 => {
                let mut values = vec![0u8; count];
                let data = values.as_mut_ptr();
                Self { data, element, count, owner: Box::new(values) }
            }
        }
    }

    /// A buffer over memory that `owner` holds.
    ///
    /// # Safety
    /// `data` must be valid for reads and writes of `count` elements of `element`, aligned for
    /// it, for as long as `owner` lives, and nothing else may access that memory meanwhile
    /// except through `owner` after the buffer is handed back.
    pub unsafe fn from_owner(owner: Box<dyn Any + Send>, data: *mut u8, element: Element, count: usize) -> Self {
        assert_eq!(data.align_offset(element.size()), 0, "a {element:?} buffer must be aligned for it");
        Self { data, element, count, owner }
    }

    /// The element type.
    pub fn element(&self) -> Element {
        self.element
    }

    /// The elements, when they are `T`s.
    pub fn as_slice<T: Pixel>(&self) -> Option<&[T]> {
        // SAFETY: the constructor's contract: valid, aligned, `count` elements of this type.
        (T::ELEMENT == self.element).then(|| unsafe { std::slice::from_raw_parts(self.data.cast::<T>(), self.count) })
    }

    /// The elements for writing, when they are `T`s.
    pub fn as_mut_slice<T: Pixel>(&mut self) -> Option<&mut [T]> {
        // SAFETY: as above, and `&mut self` makes this the only access.
        (T::ELEMENT == self.element)
            .then(|| unsafe { std::slice::from_raw_parts_mut(self.data.cast::<T>(), self.count) })
    }

    /// The owner, when it is an `O` (the device stage takes a tensor-backed batch as it is).
    pub fn owner<O: Any>(&self) -> Option<&O> {
        self.owner.downcast_ref::<O>()
    }
}

impl Debug for HostBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuffer").field("element", &self.element).field("count", &self.count).finish()
    }
}

impl PartialEq for HostBuffer {
    fn eq(&self, other: &Self) -> bool {
        match self.element {
            Element::F32 => self.as_slice::<f32>() == other.as_slice::<f32>(),
            Element::U8 => self.as_slice::<u8>() == other.as_slice::<u8>(),
        }
    }
}

/// Why no buffer could be had for a batch (e.g. page-locked memory exhausted); the batch cannot
/// be assembled and the pipeline reports it.
#[derive(Debug, thiserror::Error)]
#[error("{memory} of {count} {element:?} values: {source}")]
pub struct AllocError {
    /// What was asked for ("page-locked tensor", "host tensor").
    pub memory: &'static str,
    /// Its element type.
    pub element: Element,
    /// Its number of elements.
    pub count: usize,
    /// The allocator's error.
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Hands out the buffers batches are assembled in.
pub trait BatchMemory: Send + Sync + Debug {
    /// A buffer of `count` elements (its contents are overwritten slot by slot).
    fn allocate(&self, element: Element, count: usize) -> Result<HostBuffer, AllocError>;
}

/// Batches on the heap: tests, benchmarks and evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heap;

impl BatchMemory for Heap {
    fn allocate(&self, element: Element, count: usize) -> Result<HostBuffer, AllocError> {
        Ok(HostBuffer::heap(element, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_reads_and_writes_as_its_own_type_only() {
        let mut buffer = Heap.allocate(Element::F32, 3).unwrap();
        buffer.as_mut_slice::<f32>().unwrap().copy_from_slice(&[1.0, 2.0, 3.0]);
        assert_eq!(buffer.as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0]);
        assert!(buffer.as_slice::<u8>().is_none());
        assert_eq!(buffer.owner::<Vec<f32>>().map(Vec::len), Some(3));
        assert!(buffer.owner::<Vec<u8>>().is_none());
        let mut other = HostBuffer::heap(Element::F32, 3);
        assert_ne!(buffer, other);
        other.as_mut_slice::<f32>().unwrap().copy_from_slice(&[1.0, 2.0, 3.0]);
        assert_eq!(buffer, other);
    }

    #[test]
    #[should_panic(expected = "aligned")]
    fn a_misaligned_float_buffer_is_refused() {
        let mut bytes = vec![0u8; 16];
        let data = bytes.as_mut_ptr();
        let offset = if data.align_offset(4) == 1 { 2 } else { 1 };
        // SAFETY: never read: the constructor refuses the pointer first.
        let _ = unsafe { HostBuffer::from_owner(Box::new(bytes), data.wrapping_add(offset), Element::F32, 2) };
    }
}
