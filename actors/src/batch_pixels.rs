//! What a worker hands over for one sample, and what a batch holds: normalised floats when the
//! photometric operations ran on the worker, or u8 views plus their parameters when they run
//! batched on the training device (`[augmentation] photometric = "device"`): a quarter of the
//! bytes to copy, and the jitter, grayscale, blur and normalisation off the CPU.

use lgd_datasets::augment::ViewParams;

use crate::batch_memory::{AllocError, BatchMemory, Element, HostBuffer};

/// One produced sample.
#[derive(Debug, PartialEq)]
pub enum SamplePixels {
    /// `[3, S, S]` normalised floats (channel-major).
    Normalized(Vec<f32>),
    /// `[S, S, 3]` u8 after crop, resize and flip; `view` holds the photometric parameters.
    Raw {
        /// Row-major RGB bytes.
        rgb: Vec<u8>,
        /// The view's parameters (jitter, grayscale, blur are still to apply).
        view: ViewParams,
    },
}

/// The pixels of one batch, in slot order, in memory from the pipeline's [`BatchMemory`].
#[derive(Debug, PartialEq)]
pub enum BatchPixels {
    /// `[B, 3, S, S]` normalised floats.
    Normalized(HostBuffer),
    /// `[B, S, S, 3]` u8 views and each view's parameters.
    Raw {
        /// Batch-major HWC bytes.
        rgb: HostBuffer,
        /// One per slot.
        views: Vec<ViewParams>,
    },
}

impl BatchPixels {
    /// A batch of `batch` slots of `sample_values` values each, of the same kind as `first`, in
    /// memory from `memory` (every slot is written before the batch is handed on).
    pub(crate) fn shaped_like(
        first: &SamplePixels,
        batch: usize,
        sample_values: usize,
        memory: &dyn BatchMemory,
    ) -> Result<Self, AllocError> {
        Ok(match first {
            SamplePixels::Normalized(_) => Self::Normalized(memory.allocate(Element::F32, batch * sample_values)?),
            SamplePixels::Raw { view, .. } => Self::Raw {
                rgb: memory.allocate(Element::U8, batch * sample_values)?,
                views: vec![view.clone(); batch],
            },
        })
    }

    /// Normalised floats already in a buffer (tests, benchmarks).
    pub fn normalized_from(values: &[f32]) -> Self {
        let mut buffer = HostBuffer::heap(Element::F32, values.len());
        buffer.as_mut_slice::<f32>().expect("an f32 buffer").copy_from_slice(values);
        Self::Normalized(buffer)
    }

    /// Raw u8 views already in a buffer (tests, benchmarks).
    pub fn raw_from(rgb: &[u8], views: Vec<ViewParams>) -> Self {
        let mut buffer = HostBuffer::heap(Element::U8, rgb.len());
        buffer.as_mut_slice::<u8>().expect("a u8 buffer").copy_from_slice(rgb);
        Self::Raw { rgb: buffer, views }
    }

    /// Writes `sample` into `slot`. The workers of one pipeline share one config, so the kinds
    /// always agree; a mismatch is a programming error.
    pub(crate) fn put(&mut self, slot: usize, sample: SamplePixels) {
        match (self, sample) {
            (Self::Normalized(all), SamplePixels::Normalized(one)) => {
                let all = all.as_mut_slice::<f32>().expect("a normalised batch holds f32");
                all[slot * one.len()..(slot + 1) * one.len()].copy_from_slice(&one);
            }
            (Self::Raw { rgb, views }, SamplePixels::Raw { rgb: one, view }) => {
                let rgb = rgb.as_mut_slice::<u8>().expect("a raw batch holds u8");
                rgb[slot * one.len()..(slot + 1) * one.len()].copy_from_slice(&one);
                views[slot] = view;
            }
            _ => panic!("one batch mixes normalised and raw samples"),
        }
    }

    /// The normalised floats, when the photometric operations ran on the host.
    pub fn normalized(&self) -> Option<&[f32]> {
        match self {
            Self::Normalized(values) => values.as_slice::<f32>(),
            Self::Raw { .. } => None,
        }
    }
}
