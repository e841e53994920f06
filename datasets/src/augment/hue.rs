//! ColorJitter's hue shift on a PIL image: through PIL's 8-bit HSV.
//!
//! torchvision converts to PIL's `"HSV"` mode (every channel 0..=255), adds
//! `uint8(int32(hue_factor·255))` to H with wrap-around, and converts back. The 8-bit
//! quantisation of H and S is part of the result (a shift of 0 is not the identity), so we
//! reproduce PIL's two conversions, including which steps it computes in single and which in
//! double precision.

use crate::rgb::RgbImage;

/// PIL's RGB → HSV for one pixel (each 0..=255).
#[inline]
fn rgb_to_hsv(r: u8, g: u8, b: u8) -> [u8; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    if maxc == minc {
        return [0, 0, maxc];
    }
    let cr = f32::from(maxc - minc);
    let s = cr / f32::from(maxc);
    let rc = f32::from(maxc - r) / cr;
    let gc = f32::from(maxc - g) / cr;
    let bc = f32::from(maxc - b) / cr;
    let h: f32 = if r == maxc {
        bc - gc
    } else if g == maxc {
        (2.0 + f64::from(rc) - f64::from(bc)) as f32
    } else {
        (4.0 + f64::from(gc) - f64::from(rc)) as f32
    };
    // Negative hues wrap into [0, 1).
    let h = ((f64::from(h) / 6.0 + 1.0) % 1.0) as f32;
    let to8 = |v: f32| ((f64::from(v) * 255.0) as i32).clamp(0, 255) as u8;
    [to8(h), to8(s), maxc]
}

/// PIL's HSV → RGB for one pixel.
// The definition the tables of `adjust_hue` are checked against (tests only).
#[cfg_attr(not(test), allow(dead_code))]
#[inline]
fn hsv_to_rgb(h: u8, s: u8, v: u8) -> [u8; 3] {
    if s == 0 {
        return [v; 3];
    }
    let h6 = f64::from(h) * 6.0 / 255.0;
    let i = h6.floor() as i32;
    let f = (h6 - f64::from(i)) as f32;
    let fs = (f64::from(s) / 255.0) as f32;
    let vf = f64::from(v);
    let to8 = |x: f64| (x.round() as i32).clamp(0, 255) as u8;
    let p = to8(vf * (1.0 - f64::from(fs)));
    let q = to8(vf * (1.0 - f64::from(fs * f)));
    let t = to8(vf * (1.0 - f64::from(fs) * (1.0 - f64::from(f))));
    match i % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// The amount torchvision adds to PIL's 8-bit hue: `np.int32(factor·255).astype(np.uint8)`.
pub fn hue_shift_u8(hue_factor: f32) -> u8 {
    // f64 product as Python computes it; truncation toward zero, then wrap modulo 256.
    ((f64::from(hue_factor) * 255.0) as i32) as u8
}

/// Lookup tables that replace the per-pixel float maths of [`rgb_to_hsv`], and the parts of
/// [`hsv_to_rgb`] that depend on one channel only. Built once per process *from those functions*,
/// so a lookup returns exactly PIL's result; the float code stays the definition.
///
/// Why a table is possible for the hue: with cr = max − min, the two channel quotients PIL forms
/// are (max − x)/cr, and one of them is (max − min)/cr = 1 exactly. The hue is therefore a
/// function of which channel is the maximum, which is the minimum, cr, and d = max − (the third
/// channel): 6 cases × 256 × 256 bytes. (PIL's per-pixel divisions and `fmod` took ~2 ms per
/// 224² view; the lookups take a fraction of that.)
///
/// Public so that the batched tensor-side hue ([`hue_tables`]) looks up the same bytes.
#[derive(Debug)]
pub struct Tables {
    /// Hue of (case, cr, d) at `(case · 256 + cr) · 256 + d`.
    pub hue: Vec<u8>,
    /// Saturation of (max, cr) at `max · 256 + cr`.
    pub sat: Vec<u8>,
    /// Sector (0..6) of an 8-bit hue, `floor(h·6/255) mod 6`.
    pub sector: [u8; 256],
    /// Fraction within the sector, single precision as PIL.
    pub frac: [f32; 256],
    /// s/255 in single precision.
    pub fs: [f32; 256],
}

/// The process-wide hue tables (built on first use).
pub fn hue_tables() -> &'static Tables {
    tables()
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut hue = vec![0u8; 6 * 256 * 256];
        for cr in 1..=255u8 {
            for d in 0..=cr {
                let o = cr - d;
                // A pixel of each case with max = cr and min = 0 (see `classify`).
                let triples = [[cr, o, 0], [cr, 0, o], [o, cr, 0], [0, cr, o], [0, o, cr], [o, 0, cr]];
                for (case, [r, g, b]) in triples.into_iter().enumerate() {
                    hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)] = rgb_to_hsv(r, g, b)[0];
                }
            }
        }
        let mut sat = vec![0u8; 256 * 256];
        for max in 1..=255u8 {
            for cr in 1..=max {
                sat[usize::from(max) * 256 + usize::from(cr)] = rgb_to_hsv(max, max - cr, max - cr)[1];
            }
        }
        let mut sector = [0u8; 256];
        let mut frac = [0f32; 256];
        for h in 0..256 {
            let h6 = h as f64 * 6.0 / 255.0;
            let i = h6.floor();
            sector[h] = (i as i32 % 6) as u8;
            frac[h] = (h6 - i) as f32;
        }
        let fs = std::array::from_fn(|s| (s as f64 / 255.0) as f32);
        Tables { hue, sat, sector, frac, fs }
    })
}

/// Which channel of (R, G, B) holds the third value (neither the maximum nor the minimum) in
/// each case.
pub const OTHER: [usize; 6] = [1, 2, 0, 2, 1, 0];

/// The case of a pixel: which channel is the maximum (ties: R, then G, as PIL tests them) and
/// which of the other two is the minimum. Written as selects, not branches: on textured photos
/// the case changes from pixel to pixel and mispredicted branches cost more than the maths.
#[inline(always)]
fn classify(r: u8, g: u8, b: u8, max: u8, min: u8) -> usize {
    let if_r = usize::from(b != min);
    let if_g = 2 + usize::from(b != min);
    let if_b = 4 + usize::from(r != min);
    let not_r = if g == max { if_g } else { if_b };
    if r == max {
        if_r
    } else {
        not_r
    }
}

/// Where each output channel takes its value from, per sector, among [v, mid, p] (mid is t in
/// even sectors, q in odd ones): PIL's six cases of the HSV → RGB conversion.
pub const SECTOR_SOURCE: [[usize; 3]; 6] = [[0, 1, 2], [1, 0, 2], [2, 0, 1], [2, 1, 0], [1, 2, 0], [0, 2, 1]];

/// Round half away from zero for x ≥ 0 (as `f64::round`), without the libm call: x − trunc(x)
/// is exact, so the comparison decides exactly as `round` does.
#[inline]
fn round8(x: f64) -> u8 {
    let t = x as i32;
    (t + i32::from(x - f64::from(t) >= 0.5)).clamp(0, 255) as u8
}

/// torchvision `adjust_hue` on an RGB PIL image; `hue_factor` in [-0.5, 0.5].
pub fn adjust_hue(img: &mut RgbImage, hue_factor: f32) {
    let shift = hue_shift_u8(hue_factor);
    let t = tables();
    for px in img.as_raw_mut().chunks_exact_mut(3) {
        let (r, g, b) = (px[0], px[1], px[2]);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        // Grey (cr = 0) needs no branch: both tables hold 0 there, and saturation 0 gives
        // p = q = t = v below, i.e. the same grey, as PIL.
        let cr = max - min;
        let case = classify(r, g, b, max, min);
        let d = max - px[OTHER[case]];
        let h = t.hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)].wrapping_add(shift);
        let s = t.sat[usize::from(max) * 256 + usize::from(cr)];
        let (f, fs, vf) = (t.frac[usize::from(h)], t.fs[usize::from(s)], f64::from(max));
        let p = round8(vf * (1.0 - f64::from(fs)));
        let q = round8(vf * (1.0 - f64::from(fs * f)));
        let tv = round8(vf * (1.0 - f64::from(fs) * (1.0 - f64::from(f))));
        let sector = usize::from(t.sector[usize::from(h)]);
        let mid = if sector & 1 == 1 { q } else { tv };
        let values = [max, mid, p];
        let src = SECTOR_SOURCE[sector];
        px[0] = values[src[0]];
        px[1] = values[src[1]];
        px[2] = values[src[2]];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_round_trip_and_shift_wraps() {
        assert_eq!(rgb_to_hsv(255, 0, 0), [0, 255, 255]);
        assert_eq!(hsv_to_rgb(0, 255, 255), [255, 0, 0]);
        assert_eq!(rgb_to_hsv(0, 0, 255)[0], 170);
        assert_eq!(hue_shift_u8(-0.1), (256 - 25) as u8);
        assert_eq!(hue_shift_u8(0.1), 25);
        // Grey has no hue: unchanged by any shift.
        let mut img = RgbImage::from_raw(1, 1, vec![77, 77, 77]).unwrap();
        adjust_hue(&mut img, 0.3);
        assert_eq!(img.as_raw(), &[77, 77, 77]);
    }

    #[test]
    fn tables_equal_the_float_definition_on_every_colour() {
        // Every 24-bit colour (stride 3 on each channel keeps it quick and still hits every case,
        // tie and grey), for shifts covering wrap-around both ways.
        for shift in [0.0f32, 0.1, -0.1, 0.5, -0.5, 0.27] {
            let k = hue_shift_u8(shift);
            let mut data = Vec::new();
            for r in (0..=255u8).step_by(3) {
                for g in (0..=255u8).step_by(3) {
                    for b in (0..=255u8).rev().step_by(3) {
                        data.extend_from_slice(&[r, g, b]);
                    }
                }
            }
            let n = data.len() / 3;
            let mut img = RgbImage::from_raw(n, 1, data.clone()).unwrap();
            adjust_hue(&mut img, shift);
            for (px, out) in data.chunks_exact(3).zip(img.as_raw().chunks_exact(3)) {
                let [h, s, v] = rgb_to_hsv(px[0], px[1], px[2]);
                assert_eq!(out, hsv_to_rgb(h.wrapping_add(k), s, v), "{px:?} shift {shift}");
            }
        }
    }
}
