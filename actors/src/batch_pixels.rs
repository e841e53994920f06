//! What a worker hands over for one sample, and what a batch holds: normalised floats when the
//! photometric operations ran on the worker, or u8 views plus their parameters when they run
//! batched on the training device (`[augmentation] photometric = "device"`): a quarter of the
//! bytes to copy, and the jitter, grayscale, blur and normalisation off the CPU.

use lgd_datasets::augment::ViewParams;

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

/// The pixels of one batch, in slot order.
#[derive(Debug, PartialEq)]
pub enum BatchPixels {
    /// `[B, 3, S, S]` normalised floats.
    Normalized(Vec<f32>),
    /// `[B, S, S, 3]` u8 views and each view's parameters.
    Raw {
        /// Batch-major HWC bytes.
        rgb: Vec<u8>,
        /// One per slot.
        views: Vec<ViewParams>,
    },
}

impl BatchPixels {
    /// An empty batch of `batch` slots of `sample_values` values each, of the same kind as `first`.
    pub(crate) fn shaped_like(first: &SamplePixels, batch: usize, sample_values: usize) -> Self {
        match first {
            SamplePixels::Normalized(_) => Self::Normalized(vec![0.0; batch * sample_values]),
            SamplePixels::Raw { view, .. } => Self::Raw { rgb: vec![0; batch * sample_values], views: vec![view.clone(); batch] },
        }
    }

    /// Writes `sample` into `slot`. The workers of one pipeline share one config, so the kinds
    /// always agree; a mismatch is a programming error.
    pub(crate) fn put(&mut self, slot: usize, sample: SamplePixels) {
        match (self, sample) {
            (Self::Normalized(all), SamplePixels::Normalized(one)) => {
                all[slot * one.len()..(slot + 1) * one.len()].copy_from_slice(&one);
            }
            (Self::Raw { rgb, views }, SamplePixels::Raw { rgb: one, view }) => {
                rgb[slot * one.len()..(slot + 1) * one.len()].copy_from_slice(&one);
                views[slot] = view;
            }
            _ => panic!("one batch mixes normalised and raw samples"),
        }
    }

    /// The normalised floats, when the photometric operations ran on the host.
    pub fn normalized(&self) -> Option<&[f32]> {
        match self {
            Self::Normalized(values) => Some(values),
            Self::Raw { .. } => None,
        }
    }
}
