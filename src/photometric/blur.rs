//! PIL's GaussianBlur (radius = sigma) on `[n, 3, H, W]` f32 batches of integers 0..=255, with a
//! different sigma per view: three extended-box passes along the rows, then three down the
//! columns, each in PIL's 24-bit fixed point with the same integer weights as the host path
//! (`lgd_datasets::augment::blur::BoxKernel`), edges extended by the border pixel, rounded to
//! 8 bits after every pass.
//!
//! A pass is a sum of shifted copies of the edge-padded batch, each multiplied by its per-view
//! weight: views of smaller radius get zero weights on the outer taps. Integers throughout (int64:
//! 255 · 2^24 does not fit an int32), so the sums are PIL's exactly.

use lgd_datasets::augment::blur::{BoxKernel, PASSES};
use tch::{Kind, Tensor};

/// Blurs view i with `sigmas[i]` (> 0).
pub(super) fn blur(x: &Tensor, sigmas: Vec<f32>) -> Tensor {
    let kernels: Vec<BoxKernel> =
        sigmas.iter().map(|&s| BoxKernel::for_sigma(s).expect("a drawn blur sigma is > 0")).collect();
    let reach = kernels.iter().map(|k| k.r + 1).max().unwrap_or(1);
    // weights[i][reach + k]: the weight of the tap at offset k for view i.
    let taps = 2 * reach + 1;
    let mut weights = vec![0i64; kernels.len() * taps];
    for (i, k) in kernels.iter().enumerate() {
        for offset in 0..=k.r + 1 {
            let w = if offset <= k.r { i64::from(k.ww) } else { i64::from(k.fw) };
            weights[i * taps + reach + offset] = w;
            weights[i * taps + reach - offset] = w;
        }
    }
    let weights = crate::torch_ext::upload(Tensor::from_slice(&weights), x.device()).reshape([-1, taps as i64]);
    let tap = |t: usize| weights.narrow(1, t as i64, 1).reshape([-1, 1, 1, 1]);
    let tap_weights: Vec<Tensor> = (0..taps).map(tap).collect();
    let mut y = x.to_kind(Kind::Int64);
    for axis in [3, 2] {
        for _ in 0..PASSES {
            y = box_pass(&y, axis, reach as i64, &tap_weights);
        }
    }
    y.to_kind(Kind::Float)
}

/// One fixed-point box pass along `axis` (3: along rows, 2: down columns).
fn box_pass(y: &Tensor, axis: i64, reach: i64, tap_weights: &[Tensor]) -> Tensor {
    let len = y.size()[axis as usize];
    let first = y.narrow(axis, 0, 1);
    let last = y.narrow(axis, len - 1, 1);
    let mut expand = y.size();
    expand[axis as usize] = reach;
    let padded = Tensor::cat(&[first.expand(&expand, false), y.shallow_clone(), last.expand(&expand, false)], axis);
    let mut sum = Tensor::zeros_like(y);
    for (t, w) in tap_weights.iter().enumerate() {
        sum += padded.narrow(axis, t as i64, len) * w;
    }
    (sum + (1i64 << 23)).bitwise_right_shift_tensor_scalar(24)
}
