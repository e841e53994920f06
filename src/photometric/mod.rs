//! The photometric half of the training views, batched on the training device
//! (`[augmentation] photometric = "device"`): ColorJitter in each view's own random order,
//! RandomGrayscale, PIL's GaussianBlur and ToTensor + Normalize, on a `[B, S, S, 3]` u8 batch
//! that the decode workers cropped, resized and flipped.
//!
//! The parameters are the ones the workers drew from the per-(seed, epoch, sample) streams, so
//! the distributions are the host path's by construction; the maths is the host path's too — PIL's
//! 8-bit truncations, the fixed-point luma and blur, the 8-bit HSV of its hue shift — computed
//! with tensor operations whose every rounding is the host's: separate f32 multiply and add (no
//! fused ones), integer arithmetic where PIL uses integers, no division by anything but a power
//! of two (CUDA divides by a scalar through its reciprocal), the host's own lookup tables for the
//! HSV conversion and for ToTensor + Normalize. The result is the host path's bytes and floats
//! (tested on the CPU device), which is what lets a run move this work between host and device
//! without changing what it learns.
//!
//! Each operation runs only on the views that use it (gathered, changed, scattered back), so a
//! batch costs one pass per operation, not one per operation and position in the jitter order.

pub mod bench;
mod blend;
mod blur;
mod hue;

use lgd_actors::batch_memory::{Element, HostBuffer};
use lgd_actors::batch_pixels::BatchPixels;
use lgd_datasets::augment::color_jitter::JitterOp;
use lgd_datasets::augment::{AugmentationConfig, Recipe, Step, ViewParams};
use tch::{Device, Kind, Tensor};

use crate::torch_ext::upload;

/// The device-side photometric stage of one run.
#[derive(Debug)]
pub struct DevicePhotometric {
    recipe: Recipe,
    /// ToTensor + Normalize of byte value v in channel c at `c · 256 + v`: the host's own table
    /// (`to_tensor_normalized_into`), so the floats are its floats on every device.
    normalized: Tensor,
    /// `[1, 3, 1, 1]`: where each channel's entries start in `normalized`.
    channel_offsets: Tensor,
    device: Device,
    hue: hue::HueTables,
}

impl DevicePhotometric {
    /// The stage for `config`'s recipe and normalisation, with its tables on `device`.
    pub fn new(config: &AugmentationConfig, device: Device) -> Self {
        let table: Vec<f32> =
            (0..3).flat_map(|c| (0..256).map(move |v| (v as f32 / 255.0 - config.mean[c]) / config.std[c])).collect();
        let normalized = Tensor::from_slice(&table).to_device(device);
        let channel_offsets = Tensor::from_slice(&[0i64, 256, 512]).reshape([1, 3, 1, 1]).to_device(device);
        Self { recipe: config.recipe, normalized, channel_offsets, device, hue: hue::HueTables::new(device) }
    }

    /// A host batch of `side`² views as the normalised `[B, 3, S, S]` batch on the stage's device:
    /// floats are copied as they are; u8 views are copied (a quarter of the bytes) and finished here.
    pub fn batch(&self, pixels: &BatchPixels, side: i64) -> Tensor {
        let device = self.device;
        match pixels {
            BatchPixels::Normalized(values) => upload(host_tensor(values).reshape([-1, 3, side, side]), device),
            BatchPixels::Raw { rgb, views } => {
                let bytes = upload(host_tensor(rgb).reshape([-1, side, side, 3]), device);
                self.apply(&bytes, views)
            }
        }
    }

    /// `rgb`: `[B, S, S, 3]` u8 views on the device, `views[b]` the parameters of view b.
    /// Returns the normalised `[B, 3, S, S]` f32 batch (channels-last in memory).
    pub fn apply(&self, rgb: &Tensor, views: &[ViewParams]) -> Tensor {
        let x = self.apply_u8(rgb, views).to_kind(Kind::Int64);
        self.normalized.take(&(x + &self.channel_offsets))
    }

    /// The photometric operations alone: `[B, 3, S, S]` f32 holding integers 0..=255, the bytes
    /// the host path would have produced.
    pub fn apply_u8(&self, rgb: &Tensor, views: &[ViewParams]) -> Tensor {
        assert_eq!(rgb.size()[0], views.len() as i64, "one parameter set per view");
        let mut x = rgb.permute([0, 3, 1, 2]).to_kind(Kind::Float);
        for step in self.recipe.steps() {
            match step {
                Step::Jitter => self.jitter(&mut x, views),
                Step::Grayscale => on_views(&mut x, views, |v| v.grayscale.then_some(()), |x, _| blend::grayscale(x)),
                Step::Blur => on_views(&mut x, views, |v| v.blur_sigma, blur::blur),
                Step::Flip => {} // done by the workers: it commutes with every photometric operation
            }
        }
        x
    }

    /// ColorJitter: at each of the four positions of the order, every operation runs on the
    /// views whose order puts it there.
    fn jitter(&self, x: &mut Tensor, views: &[ViewParams]) {
        for position in 0..4 {
            let at = |op: JitterOp| move |v: &ViewParams| v.jitter.filter(|j| j.order[position] == op);
            on_views(x, views, at(JitterOp::Brightness), |x, j| blend::brightness(x, &factors(&j, |j| j.brightness)));
            on_views(x, views, at(JitterOp::Contrast), |x, j| blend::contrast(x, &factors(&j, |j| j.contrast)));
            on_views(x, views, at(JitterOp::Saturation), |x, j| blend::saturation(x, &factors(&j, |j| j.saturation)));
            on_views(x, views, at(JitterOp::Hue), |x, j| {
                let shifts: Vec<f32> = j.iter().map(|j| j.hue.unwrap_or(0.0)).collect();
                self.hue.shift(x, &shifts)
            });
        }
    }
}

/// The batch buffer as a 1-D host tensor: the tensor it was assembled in (`TensorMemory`) as it
/// is, or a copy of heap memory.
fn host_tensor(buffer: &HostBuffer) -> Tensor {
    if let Some(tensor) = buffer.owner::<Tensor>() {
        return tensor.shallow_clone();
    }
    match buffer.element() {
        Element::F32 => Tensor::from_slice(buffer.as_slice::<f32>().expect("an f32 buffer")),
        Element::U8 => Tensor::from_slice(buffer.as_slice::<u8>().expect("a u8 buffer")),
    }
}

/// One factor per view as a `[n, 1, 1, 1]` tensor; a disabled operation (`None`) is factor 1,
/// which every blend leaves exactly unchanged.
fn factors<J>(params: &[J], pick: impl Fn(&J) -> Option<f32>) -> Vec<f32> {
    params.iter().map(|p| pick(p).unwrap_or(1.0)).collect()
}

/// Runs `op` on the views for which `select` gives a parameter, with those parameters in order,
/// and writes the results back in place; views without one are not touched.
fn on_views<P>(
    x: &mut Tensor,
    views: &[ViewParams],
    select: impl Fn(&ViewParams) -> Option<P>,
    op: impl Fn(&Tensor, Vec<P>) -> Tensor,
) {
    let (index, params): (Vec<i64>, Vec<P>) =
        views.iter().enumerate().filter_map(|(i, v)| select(v).map(|p| (i as i64, p))).unzip();
    if index.is_empty() {
        return;
    }
    let index = upload(Tensor::from_slice(&index), x.device());
    let changed = op(&x.index_select(0, &index), params);
    let _ = x.index_copy_(0, &index, &changed);
}

/// `[n]` host values as a `[n, 1, 1, 1]` f32 tensor on `device`.
fn per_view(values: &[f32], device: Device) -> Tensor {
    upload(Tensor::from_slice(values), device).reshape([-1, 1, 1, 1])
}

#[cfg(test)]
mod tests {
    use lgd_actors::batch_memory::BatchMemory;

    use super::*;
    use crate::torch_ext::TensorMemory;

    /// A batch assembled in a tensor is uploaded from that tensor, not from a copy of it (on the
    /// CPU the "upload" is then the tensor itself); heap memory gives the same values.
    #[test]
    fn a_tensor_assembled_batch_is_taken_as_it_is() {
        let values: Vec<f32> = (0..2 * 3 * 4 * 4).map(|v| v as f32 / 7.0).collect();
        let mut buffer = TensorMemory::for_device(Device::Cpu).allocate(Element::F32, values.len()).unwrap();
        buffer.as_mut_slice::<f32>().unwrap().copy_from_slice(&values);
        let storage = buffer.owner::<Tensor>().unwrap().data_ptr();
        let stage = DevicePhotometric::new(&AugmentationConfig::default(), Device::Cpu);
        let from_tensor = stage.batch(&BatchPixels::Normalized(buffer), 4);
        assert_eq!(from_tensor.data_ptr(), storage);
        assert_eq!(from_tensor.size(), vec![2, 3, 4, 4]);
        let from_heap = stage.batch(&BatchPixels::normalized_from(&values), 4);
        assert_ne!(from_heap.data_ptr(), storage);
        assert!(from_tensor.equal(&from_heap));
    }
}
