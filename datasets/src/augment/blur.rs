//! GaussianBlur as MoCo-v2 does it: PIL's `ImageFilter.GaussianBlur(radius=sigma)`.
//!
//! PIL does not convolve with a Gaussian: it approximates one by three passes of a box blur whose
//! radius is fractional (Gwosdek et al., "Theoretical foundations of Gaussian convolution by
//! extended box filtering", SSVM 2011). We reproduce that so the views have PIL's blur, not a
//! better one: each pass averages the window [x−r, x+r] (r = integer part) with weight `ww` per
//! tap plus the two pixels at distance r+1 with the fractional weight `fw`, in 24-bit fixed point,
//! edges extended by repeating the border pixel, rounded back to 8 bits after every pass;
//! three horizontal passes, then three vertical ones.

use crate::rgb::RgbImage;

/// Number of box passes PIL uses for its Gaussian.
const PASSES: u32 = 3;

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

/// Fixed-point parameters of one fractional box: integer radius, tap weight, far-tap weight.
#[derive(Clone, Copy)]
struct BoxKernel {
    r: usize,
    ww: u32,
    fw: u32,
}

impl BoxKernel {
    fn new(radius: f32) -> Self {
        let r = radius as usize;
        // 2^24 / (2·radius + 1) in single precision, truncated, as PIL's fixed-point weights.
        let ww = (16_777_216f32 / (radius * 2.0 + 1.0)) as u32;
        let fw = ((1u32 << 24) - (r as u32 * 2 + 1) * ww) / 2;
        Self { r, ww, fw }
    }
}

/// `PASSES` box passes over one channel line held in `line[pad..pad + n]`; the `pad = r + 1`
/// cells at each end are rewritten with the border value before every pass (edge extension),
/// so the inner loop needs no bounds logic. `tmp` is scratch of the same length.
fn blur_line(line: &mut [u8], tmp: &mut [u8], n: usize, k: BoxKernel) {
    let pad = k.r + 1;
    for _ in 0..PASSES {
        let (first, last) = (line[pad], line[pad + n - 1]);
        line[..pad].fill(first);
        line[pad + n..].fill(last);
        // Window sum for x = 0: cells pad − r ..= pad + r.
        let mut acc: u32 = line[pad - k.r..=pad + k.r].iter().map(|&v| u32::from(v)).sum();
        for x in 0..n {
            let c = pad + x;
            let far = u32::from(line[c - k.r - 1]) + u32::from(line[c + k.r + 1]);
            let bulk = acc * k.ww + far * k.fw;
            tmp[c] = ((bulk + (1 << 23)) >> 24) as u8;
            acc = acc + u32::from(line[c + k.r + 1]) - u32::from(line[c - k.r]);
        }
        line[pad..pad + n].copy_from_slice(&tmp[pad..pad + n]);
    }
}

/// Blurs each of the `count` lines of `n` pixels; pixel `p` of line `l` is at byte
/// `l·line_step + p·pixel_step` (rows: step 3; columns: step 3·width) — no transpose needed.
fn blur_lines(buf: &mut [u8], count: usize, n: usize, line_step: usize, pixel_step: usize, k: BoxKernel) {
    let pad = k.r + 1;
    // The window plus the far tap may reach past a short line's padding: widen it.
    let mut line = vec![0u8; n + 2 * pad];
    let mut tmp = vec![0u8; n + 2 * pad];
    for l in 0..count {
        for c in 0..3 {
            let base = l * line_step + c;
            for p in 0..n {
                line[pad + p] = buf[base + p * pixel_step];
            }
            blur_line(&mut line, &mut tmp, n, k);
            for p in 0..n {
                buf[base + p * pixel_step] = line[pad + p];
            }
        }
    }
}

/// PIL's `GaussianBlur(radius=sigma)` applied to the whole image. `sigma <= 0` leaves it unchanged.
pub fn gaussian_blur(img: &mut RgbImage, sigma: f32) {
    // NaN fails this comparison too, so it leaves the image unchanged.
    if !(sigma > 0.0) {
        return;
    }
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return;
    }
    let k = BoxKernel::new(box_radius(sigma));
    let buf = img.as_raw_mut();
    // Three passes along every row, then three along every column (PIL's order).
    blur_lines(buf, h, w, w * 3, 3, k);
    blur_lines(buf, w, h, 3, w * 3, k);
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
}
