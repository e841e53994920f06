//! GaussianBlur as MoCo-v2 does it: PIL's `ImageFilter.GaussianBlur(radius=sigma)`.
//!
//! PIL does not convolve with a Gaussian: it approximates one by three passes of a box blur whose
//! radius is fractional (Gwosdek et al., "Theoretical foundations of Gaussian convolution by
//! extended box filtering", SSVM 2011). We reproduce that so the views have PIL's blur, not a
//! better one: each pass averages the window [x−r, x+r] (r = integer part) with weight `ww` per
//! tap plus the two pixels at distance r+1 with the fractional weight `fw`, in 24-bit fixed point,
//! edges extended by repeating the border pixel, rounded back to 8 bits after every pass;
//! three horizontal passes, then three vertical ones.

use super::simd::simd_dispatch;
use crate::rgb::RgbImage;

/// Number of box passes PIL uses for its Gaussian (along each axis).
pub const PASSES: u32 = 3;

/// The fractional box radius whose `PASSES`-fold repetition has variance sigma² (PIL's formula,
/// single precision as PIL computes it).
fn box_radius(sigma: f32) -> f32 {
    let sigma2 = sigma * sigma / PASSES as f32;
    let l_box = (12.0 * f64::from(sigma2) + 1.0).sqrt() as f32;
    let l = ((f64::from(l_box) - 1.0) / 2.0).floor() as f32;
    let a = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    let a = a / (6.0 * (sigma2 - (l + 1.0) * (l + 1.0)));
    l + a
}

/// Fixed-point parameters of one fractional box, in units of 2^-24: every tap within `r` of the
/// centre weighs `ww`, the two at distance `r + 1` weigh `fw`; the sum plus 2^23 is shifted right
/// by 24. Public so that the batched tensor-side blur uses the very same integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxKernel {
    /// Integer radius.
    pub r: usize,
    /// Weight of each tap within the radius.
    pub ww: u32,
    /// Weight of each of the two taps at distance `r + 1`.
    pub fw: u32,
}

impl BoxKernel {
    /// The box PIL uses for `GaussianBlur(radius = sigma)`; `None` when `sigma <= 0` (no blur).
    pub fn for_sigma(sigma: f32) -> Option<Self> {
        (sigma > 0.0).then(|| Self::new(box_radius(sigma)))
    }

    fn new(radius: f32) -> Self {
        let r = radius as usize;
        // 2^24 / (2·radius + 1) in single precision, truncated, as PIL's fixed-point weights.
        let ww = (16_777_216f32 / (radius * 2.0 + 1.0)) as u32;
        let fw = ((1u32 << 24) - (r as u32 * 2 + 1) * ww) / 2;
        Self { r, ww, fw }
    }
}

/// Reusable buffers of [`gaussian_blur_with`]: two image-sized planes and one row of sums. A
/// worker keeps one, so blurring allocates nothing after the first image.
#[derive(Debug, Default)]
pub struct BlurScratch {
    a: Vec<u8>,
    b: Vec<u8>,
    acc: Vec<u32>,
}

simd_dispatch! {
    /// One box pass down the columns of a `rows`×`stride` byte plane, `src` → `dst`.
    ///
    /// Every byte column is an independent line, so one running sum per column runs along the
    /// rows and the inner loop is a straight vector loop over the row (this is why the
    /// horizontal passes work on the transpose instead of walking a row with a dependency chain).
    /// Row indices are clamped at both ends: PIL's edge extension. u32 cannot overflow: the
    /// weights sum to at most 2^24, times 255, plus the rounding half.
    fn box_pass(src: &[u8], dst: &mut [u8], rows: usize, stride: usize, k: BoxKernel, acc: &mut [u32]) {
        let row = |y: usize| &src[y * stride..(y + 1) * stride];
        let clamp = |y: isize| y.clamp(0, rows as isize - 1) as usize;
        let r = k.r as isize;
        acc.fill(0);
        for t in -r..=r {
            for (a, &v) in acc.iter_mut().zip(row(clamp(t))) {
                *a += u32::from(v);
            }
        }
        for (y, out) in dst.chunks_exact_mut(stride).enumerate().take(rows) {
            let y = y as isize;
            let (near, far, leaving) = (row(clamp(y - r - 1)), row(clamp(y + r + 1)), row(clamp(y - r)));
            for ((((o, a), &n), &f), &l) in out.iter_mut().zip(acc.iter_mut()).zip(near).zip(far).zip(leaving) {
                let bulk = *a * k.ww + (u32::from(n) + u32::from(f)) * k.fw;
                *o = ((bulk + (1 << 23)) >> 24) as u8;
                *a = *a + u32::from(f) - u32::from(l);
            }
        }
    }
}

/// Largest integer radius whose row passes run directly on the rows (taps summed from shifted
/// slices, 2r + 1 vector loops a pass); above it a running sum over the transpose costs less.
/// MoCo-v2's sigmas (0.1 to 2) give r = 0 or 1.
const DIRECT_ROW_RADIUS: usize = 4;

simd_dispatch! {
    /// The three passes along every row of `img` (`w` RGB pixels a row), for `k.r` at most
    /// [`DIRECT_ROW_RADIUS`]. Each row is copied once into a line buffer padded with
    /// `r + 1` border pixels a side and stays in L1 for its three passes; every pass is a straight
    /// vector loop per tap, so the rows need no transpose and carry no dependency chain.
    fn row_passes(img: &mut [u8], w: usize, k: BoxKernel, a: &mut [u8], b: &mut [u8], acc: &mut [u32]) {
        let (n, pad) = (3 * w, 3 * (k.r + 1));
        let (a, b, acc) = (&mut a[..n + 2 * pad], &mut b[..n + 2 * pad], &mut acc[..n]);
        for row in img.chunks_exact_mut(n) {
            a[pad..pad + n].copy_from_slice(row);
            extend_edges(a, pad, n);
            box_line(a, &mut b[pad..pad + n], k, acc);
            extend_edges(b, pad, n);
            box_line(b, &mut a[pad..pad + n], k, acc);
            extend_edges(a, pad, n);
            box_line(a, row, k, acc);
        }
    }
}

/// Repeats the first and last pixel of the `n` bytes at `line[pad..]` over the `pad` bytes on
/// each side: PIL's edge extension, redone before every pass.
#[inline(always)]
fn extend_edges(line: &mut [u8], pad: usize, n: usize) {
    let (left, rest) = line.split_at_mut(pad);
    let (body, right) = rest.split_at_mut(n);
    let (first, last) = ([body[0], body[1], body[2]], [body[n - 3], body[n - 2], body[n - 1]]);
    for (l, r) in left.chunks_exact_mut(3).zip(right.chunks_exact_mut(3)) {
        l.copy_from_slice(&first);
        r.copy_from_slice(&last);
    }
}

/// One pass along a padded line (`src`: `dst.len()` bytes with `3 (r + 1)` bytes of edge a
/// side), with the fixed-point arithmetic of [`box_pass`]. The radii MoCo-v2 draws get a loop
/// with the tap count fixed at compile time (one fused vector loop); others sum tap by tap.
#[inline(always)]
fn box_line(src: &[u8], dst: &mut [u8], k: BoxKernel, acc: &mut [u32]) {
    match k.r {
        0 => box_line_fixed::<1>(src, dst, k),
        1 => box_line_fixed::<3>(src, dst, k),
        2 => box_line_fixed::<5>(src, dst, k),
        _ => box_line_any(src, dst, k, acc),
    }
}

/// [`box_line`] for a box of `TAPS` = 2r + 1 taps.
#[inline(always)]
fn box_line_fixed<const TAPS: usize>(src: &[u8], dst: &mut [u8], k: BoxKernel) {
    let n = dst.len();
    // Output byte i sits at src[pad + i]; its taps at pad + i + 3t (t = −r..=r) start at 3, and
    // the two at distance r + 1 at i and i + 2 pad.
    let taps: [&[u8]; TAPS] = std::array::from_fn(|t| &src[3 + 3 * t..][..n]);
    let (near, far) = (&src[..n], &src[3 * (TAPS + 1)..][..n]);
    for i in 0..n {
        let sum: u32 = taps.iter().map(|tap| u32::from(tap[i])).sum();
        let bulk = sum * k.ww + (u32::from(near[i]) + u32::from(far[i])) * k.fw;
        dst[i] = ((bulk + (1 << 23)) >> 24) as u8;
    }
}

/// [`box_line`] for any radius: the 2r + 1 taps summed into `acc` one shifted slice at a time.
#[inline(always)]
fn box_line_any(src: &[u8], dst: &mut [u8], k: BoxKernel, acc: &mut [u32]) {
    let n = dst.len();
    for (a, &v) in acc.iter_mut().zip(&src[3..3 + n]) {
        *a = u32::from(v);
    }
    for t in 1..=2 * k.r {
        for (a, &v) in acc.iter_mut().zip(&src[3 + 3 * t..3 + 3 * t + n]) {
            *a += u32::from(v);
        }
    }
    let far = 6 * (k.r + 1);
    for (((o, &a), &near), &f) in dst.iter_mut().zip(acc.iter()).zip(&src[..n]).zip(&src[far..far + n]) {
        let bulk = a * k.ww + (u32::from(near) + u32::from(f)) * k.fw;
        *o = ((bulk + (1 << 23)) >> 24) as u8;
    }
}

/// `dst` (w rows of h pixels) = transpose of `src` (h rows of w RGB pixels), in 16×16 tiles so
/// both sides stay in cache. Pixels move as `[u8; 3]` values: slicing three bytes at computed
/// offsets cost two bounds checks and a `memcpy` set-up per pixel.
fn transpose_rgb(src: &[u8], w: usize, h: usize, dst: &mut [u8]) {
    const T: usize = 16;
    let (src, _) = src.as_chunks::<3>();
    let (dst, _) = dst.as_chunks_mut::<3>();
    let (src, dst) = (&src[..w * h], &mut dst[..w * h]);
    for y0 in (0..h).step_by(T) {
        for x0 in (0..w).step_by(T) {
            let x1 = (x0 + T).min(w);
            for y in y0..(y0 + T).min(h) {
                for (x, &px) in (x0..x1).zip(&src[y * w + x0..y * w + x1]) {
                    dst[x * h + y] = px;
                }
            }
        }
    }
}

/// PIL's `GaussianBlur(radius=sigma)` applied to the whole image. `sigma <= 0` leaves it unchanged.
pub fn gaussian_blur(img: &mut RgbImage, sigma: f32) {
    gaussian_blur_with(img, sigma, &mut BlurScratch::default());
}

/// [`gaussian_blur`] with the worker's buffers.
pub fn gaussian_blur_with(img: &mut RgbImage, sigma: f32, s: &mut BlurScratch) {
    // NaN fails this comparison too, so it leaves the image unchanged.
    let Some(k) = BoxKernel::for_sigma(sigma) else { return };
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return;
    }
    let n = w * h * 3;
    s.a.resize(n.max(3 * w + 6 * (k.r + 1)), 0);
    s.b.resize(n.max(3 * w + 6 * (k.r + 1)), 0);
    s.acc.resize(w.max(h) * 3, 0);
    let acc = &mut s.acc;
    // Three passes along every row, then three along every column: PIL's order. Each pass rounds
    // to 8 bits, as PIL's does. A wide box runs its row passes as column passes on the transpose.
    if k.r <= DIRECT_ROW_RADIUS {
        row_passes(img.as_raw_mut(), w, k, &mut s.a, &mut s.b, acc);
    } else {
        transpose_rgb(img.as_raw(), w, h, &mut s.a);
        box_pass(&s.a, &mut s.b, w, h * 3, k, &mut acc[..h * 3]);
        box_pass(&s.b, &mut s.a, w, h * 3, k, &mut acc[..h * 3]);
        box_pass(&s.a, &mut s.b, w, h * 3, k, &mut acc[..h * 3]);
        transpose_rgb(&s.b, h, w, img.as_raw_mut());
    }
    box_pass(img.as_raw(), &mut s.a, h, w * 3, k, &mut acc[..w * 3]);
    box_pass(&s.a, &mut s.b, h, w * 3, k, &mut acc[..w * 3]);
    box_pass(&s.b, img.as_raw_mut(), h, w * 3, k, &mut acc[..w * 3]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_matches_the_variance_and_flat_images_stay_flat() {
        // Three passes of a box of fractional radius r have variance 3·((2r+1)²−1)/12 only for
        // integer r; PIL's formula solves the extended box exactly: check σ² is recovered.
        for &sigma in &[0.1f32, 0.5, 1.0, 2.0] {
            let r = box_radius(sigma);
            let l = r.floor();
            let a = r - l;
            let var = (2.0 * l + 1.0) * (l * (l + 1.0)) / 3.0 + 2.0 * a * (l + 1.0) * (l + 1.0);
            let var = var / (2.0 * r + 1.0) * PASSES as f32;
            assert!((var - sigma * sigma).abs() < 1e-3 * sigma.max(1.0), "{sigma}: {var}");
        }
        let mut img = RgbImage::from_raw(9, 4, vec![123; 9 * 4 * 3]).unwrap();
        gaussian_blur(&mut img, 1.7);
        assert!(img.as_raw().iter().all(|&v| v == 123));
    }

    /// The direct form: every line copied out with its edge padding, three passes, copied back.
    fn reference_blur(img: &mut RgbImage, sigma: f32) {
        let k = BoxKernel::new(box_radius(sigma));
        let (w, h) = (img.width(), img.height());
        let buf = img.as_raw_mut();
        let pad = k.r + 1;
        for (count, n, line_step, pixel_step) in [(h, w, w * 3, 3), (w, h, 3, w * 3)] {
            for l in 0..count {
                for c in 0..3 {
                    let base = l * line_step + c;
                    let mut line = vec![0u8; n + 2 * pad];
                    for p in 0..n {
                        line[pad + p] = buf[base + p * pixel_step];
                    }
                    for _ in 0..PASSES {
                        let (first, last) = (line[pad], line[pad + n - 1]);
                        line[..pad].fill(first);
                        line[pad + n..].fill(last);
                        let mut out = line.clone();
                        for x in 0..n {
                            let cx = pad + x;
                            let acc: u32 = line[cx - k.r..=cx + k.r].iter().map(|&v| u32::from(v)).sum();
                            let far = u32::from(line[cx - k.r - 1]) + u32::from(line[cx + k.r + 1]);
                            out[cx] = ((acc * k.ww + far * k.fw + (1 << 23)) >> 24) as u8;
                        }
                        line = out;
                    }
                    for p in 0..n {
                        buf[base + p * pixel_step] = line[pad + p];
                    }
                }
            }
        }
    }

    #[test]
    fn row_passes_and_passes_on_the_transpose_equal_the_direct_form() {
        let sigmas = [0.1f32, 0.9, 2.0, 4.0, 7.5];
        let radii: Vec<usize> = sigmas.iter().map(|&s| BoxKernel::for_sigma(s).unwrap().r).collect();
        assert_eq!(radii, [0, 0, 1, 3, 7], "both kinds of row pass are exercised");
        assert!(radii.iter().any(|&r| r > DIRECT_ROW_RADIUS) && radii.contains(&DIRECT_ROW_RADIUS.min(3)));
        for &(w, h) in &[(37usize, 23usize), (1, 5), (6, 1), (2, 3), (224, 224)] {
            let data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
            for &sigma in &sigmas {
                let mut a = RgbImage::from_raw(w, h, data.clone()).unwrap();
                let mut b = a.clone();
                gaussian_blur(&mut a, sigma);
                reference_blur(&mut b, sigma);
                assert_eq!(a, b, "{w}x{h} sigma {sigma}");
            }
        }
    }
}
