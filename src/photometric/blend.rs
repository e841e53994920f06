//! Brightness, contrast, saturation and grayscale on `[n, 3, H, W]` f32 batches holding the
//! integers 0..=255: PIL's `ImageEnhance` blends out = d + f·(x − d) in single precision,
//! truncated and clamped to 0..=255, and its fixed-point ITU-R 601-2 luma — the operations of
//! `lgd_datasets::augment::{enhance, grayscale}`, one rounding for one rounding.

use tch::{Kind, Tensor};

use super::per_view;

/// PIL's luma `(R·19595 + G·38470 + B·7471 + 2^15) >> 16` as `[n, 1, H, W]`. Every product and
/// partial sum is an integer below 2^24, so single precision holds them exactly.
pub(super) fn luma(x: &Tensor) -> Tensor {
    let channel = |c: i64| x.narrow(1, c, 1);
    let sum = channel(0) * 19595.0 + channel(1) * 38470.0 + channel(2) * 7471.0 + 32768.0;
    (sum / 65536.0).floor()
}

/// d + f·(x − d) as PIL's `Image.blend` with an 8-bit result: separate f32 multiply and add (as
/// the host computes it), then truncation toward zero with saturation at 0 and 255.
fn blend(x: &Tensor, degenerate: &Tensor, factor: &Tensor) -> Tensor {
    let moved = (x - degenerate) * factor;
    (moved + degenerate).clamp(0.0, 255.0).trunc()
}

/// `ImageEnhance.Brightness`: blend with black.
pub(super) fn brightness(x: &Tensor, factors: &[f32]) -> Tensor {
    let zero = Tensor::zeros([1], (Kind::Float, x.device()));
    blend(x, &zero, &per_view(factors, x.device()))
}

/// `ImageEnhance.Contrast`: blend with the image's mean luma rounded as PIL rounds it,
/// `int(mean + 0.5)`. Computed in integers, ⌊(2·sum + pixels) / (2·pixels)⌋: the same value as
/// the host's double-precision mean (a mean within 2^-25 of a half is impossible with fewer than
/// 2^24 pixels, far beyond double rounding), and no device divides by a reciprocal here.
pub(super) fn contrast(x: &Tensor, factors: &[f32]) -> Tensor {
    let size = x.size();
    let pixels = size[2] * size[3];
    let sum = luma(x).to_kind(Kind::Int64).sum_dim_intlist([1i64, 2, 3].as_slice(), true, Kind::Int64);
    let mean = (sum * 2 + pixels).floor_divide_scalar(2 * pixels).to_kind(Kind::Float);
    blend(x, &mean, &per_view(factors, x.device()))
}

/// `ImageEnhance.Color`: blend each pixel with its own luma.
pub(super) fn saturation(x: &Tensor, factors: &[f32]) -> Tensor {
    blend(x, &luma(x), &per_view(factors, x.device()))
}

/// `convert("L")` replicated to three channels.
pub(super) fn grayscale(x: &Tensor) -> Tensor {
    luma(x).expand_as(x).contiguous()
}
