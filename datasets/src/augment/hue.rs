//! ColorJitter's hue shift on a PIL image: through PIL's 8-bit HSV.
//!
//! torchvision converts to PIL's `"HSV"` mode (every channel 0..=255), adds
//! `uint8(int32(hue_factor·255))` to H with wrap-around, and converts back. The 8-bit
//! quantisation of H and S is part of the result (a shift of 0 is not the identity), so we
//! reproduce PIL's two conversions, including which steps it computes in single and which in
//! double precision: `rgb_to_hsv` and `hsv_to_rgb` are that definition, and the vectorised
//! kernel computes the same bytes with cheaper steps, checked on every input.

use super::simd::simd_dispatch;
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

/// Lookup tables of [`rgb_to_hsv`] and of the parts of [`hsv_to_rgb`] that depend on one channel
/// only, for the batched tensor-side hue (`src/photometric/hue.rs`), where a gather is cheaper
/// than PIL's mix of precisions. Built once per process *from those functions*, so a lookup
/// returns exactly PIL's result; the float code stays the definition.
///
/// Why a table is possible for the hue: with cr = max − min, the two channel quotients PIL forms
/// are (max − x)/cr, and one of them is (max − min)/cr = 1 exactly. The hue is therefore a
/// function of which channel is the maximum, which is the minimum, cr, and d = max − (the third
/// channel): 6 cases × 256 × 256 bytes.
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
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut hue = vec![0u8; 6 * 256 * 256];
        for cr in 1..=255u8 {
            for d in 0..=cr {
                let o = cr - d;
                // A pixel of each case with max = cr and min = 0 (cases as in `OTHER`).
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
/// each case: the maximum is R (cases 0, 1), else G (2, 3), else B (4, 5), ties as PIL tests
/// them; the even case of each pair is the one whose minimum comes later in (B, B, R).
pub const OTHER: [usize; 6] = [1, 2, 0, 2, 1, 0];

/// Where each output channel takes its value from, per sector, among [v, mid, p] (mid is t in
/// even sectors, q in odd ones): PIL's six cases of the HSV → RGB conversion.
pub const SECTOR_SOURCE: [[usize; 3]; 6] = [[0, 1, 2], [1, 0, 2], [2, 0, 1], [2, 1, 0], [1, 2, 0], [0, 2, 1]];

/// 2^23: a whole number 0 ≤ x < 2^23 plus this lies in the low mantissa bits, where a bit cast
/// reads it. Loops of this vectorise, where the saturating `as u8` made the compiler convert
/// lane by lane.
const WHOLE: f32 = 8_388_608.0;

/// `x as u8` for 0 ≤ x ≤ 255.
#[inline(always)]
fn trunc8(x: f32) -> u8 {
    (x.trunc() + WHOLE).to_bits() as u8
}

/// `x.round() as u8` for the 0 ≤ x ≤ 255 that [`hsv_to_rgb_lane`] rounds, as ⌊x + 0.5⌋ (no
/// x + 0.5 of theirs rounds: the exhaustive test checks them all).
#[inline(always)]
fn round8(x: f32) -> u8 {
    ((x + 0.5).floor() + WHOLE).to_bits() as u8
}

/// [`rgb_to_hsv`] as straight-line lane arithmetic, PIL's branches as selects: the same bytes
/// on every colour (the exhaustive test).
///
/// Of PIL's three quotients (max − x)/cr, the maximum's is 0 and the minimum's is 1 exactly, so
/// only q = d/cr of the third channel is divided; PIL's hue is then A + σ·q for the case's
/// constants (e.g. R max, B min: bc − gc = 1 − q). That sum is exact in double precision (q has
/// 24 significant bits from 2^-8 up), so where PIL adds in double and rounds to single, one
/// single-precision add (correctly rounded) gives the same value. Dividing by 6 became a product
/// with 1/6: not the same values in general, but the same hue bytes for every hue PIL can
/// produce here. That step stays in double precision (in single precision some hues come out one
/// lower); the products by 255 before truncating are single precision, which the exhaustive
/// test shows gives PIL's bytes. Grey (cr = 0) divides by 1 instead of 0 by 0, so no lane holds
/// a NaN.
#[inline(always)]
fn rgb_to_hsv_lane(r: u8, g: u8, b: u8) -> [u8; 3] {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let cr = max - min;
    // The third channel (see `OTHER`): what the maximum and the minimum leave of the sum.
    let third = (u32::from(r) + u32::from(g) + u32::from(b) - u32::from(max) - u32::from(min)) as u8;
    let q = f32::from(max - third) / f32::from(cr.max(1));
    // Whether the case's first candidate for the minimum is it: B when R or G is the maximum
    // (ties as PIL: R, then G), else R. Every condition is one comparison: combining booleans
    // made the compiler shuffle masks between widths.
    let first = if b > r.max(g) { r } else { b };
    // (A, σ): R max (1, −) / (−1, +); G max (1, +) / (3, −); B max (3, +) / (5, −).
    let if_first = if r == max {
        1.0 - q
    } else if g == max {
        1.0 + q
    } else {
        3.0 + q
    };
    let if_not = if r == max {
        q - 1.0
    } else if g == max {
        3.0 - q
    } else {
        5.0 - q
    };
    let h = if first == min { if_first } else { if_not };
    // fmod(x, 1) of x in [5/6, 11/6] is x − 1 (exact) from 1 on.
    let x = f64::from(h) * (1.0 / 6.0) + 1.0;
    let x = if x >= 1.0 { x - 1.0 } else { x };
    // Grey has hue 0 in PIL (its early return); the select keeps the lanes exact, not only the
    // output.
    let h8 = if cr == 0 { 0 } else { trunc8(x as f32 * 255.0) };
    let s = f32::from(cr) / f32::from(max.max(1));
    [h8, trunc8(s * 255.0), max]
}

/// [`hsv_to_rgb`] as straight-line lane arithmetic in single precision, the sector's case as
/// selects. PIL's double-precision steps all depend on one byte each, so their values can be had
/// without them: the sector ⌊6h/255⌋ in integers (a product and a shift), f and s/255 as single
/// divisions (correctly rounded: the same f32 values as PIL's double quotient rounded to single,
/// for all 256 bytes), and p, q and t from single-precision products (the same bytes on every
/// (h, s, v): the exhaustive test). Saturation 0 needs no branch: p = q = t = v.
#[inline(always)]
fn hsv_to_rgb_lane(h: u8, s: u8, v: u8) -> [u8; 3] {
    // i = ⌊6h/255⌋ in integers (a product and a shift: exact for 6h ≤ 1530), f = (6h − 255 i)/255.
    let h6 = 6 * u32::from(h);
    let i = (h6 * 257 + 257) >> 16;
    let f = (h6 - 255 * i) as f32 / 255.0;
    // i in 0..=6; 6 (h = 255) is sector 0.
    let sector = if i >= 6 { 0 } else { i as u8 };
    let fs = f32::from(s) / 255.0;
    let vf = f32::from(v);
    let p = round8(vf * (1.0 - fs));
    let q = round8(vf * (1.0 - fs * f));
    let t = round8(vf * (1.0 - fs * (1.0 - f)));
    // PIL's table of cases: 0 [v,t,p], 1 [q,v,p], 2 [p,v,t], 3 [p,q,v], 4 [t,p,v], 5 [v,p,q]; as
    // chains of single comparisons (see `rgb_to_hsv_lane`).
    let r = if sector == 1 {
        q
    } else if sector == 4 {
        t
    } else if sector.wrapping_sub(2) < 2 {
        p
    } else {
        v
    };
    let g = if sector == 0 {
        t
    } else if sector == 3 {
        q
    } else if sector <= 2 {
        v
    } else {
        p
    };
    let b = if sector == 2 {
        t
    } else if sector == 5 {
        q
    } else if sector <= 1 {
        p
    } else {
        v
    };
    [r, g, b]
}

/// Pixels per block of [`shift_hue`]; the remainder goes through a padded block.
const BLOCK: usize = 32;

simd_dispatch! {
    /// The hue shift of `raw` as vector arithmetic, BLOCK pixels at a time: 0.13 ms a 224² view,
    /// where lookup tables (24 KB of ratio buckets, 393 KB behind them) took 0.48 ms.
    fn shift_hue(raw: &mut [u8], shift: u8) {
        let mut blocks = raw.chunks_exact_mut(BLOCK * 3);
        for block in &mut blocks {
            let block: &mut [u8; BLOCK * 3] = block.try_into().expect("a whole block");
            shift_block(block, shift);
        }
        let rest = blocks.into_remainder();
        if !rest.is_empty() {
            let mut pad = [0u8; BLOCK * 3];
            pad[..rest.len()].copy_from_slice(rest);
            shift_block(&mut pad, shift);
            rest.copy_from_slice(&pad[..rest.len()]);
        }
    }
}

/// One block in one loop over its pixels, which the compiler vectorises 32 pixels wide (the
/// bytes set the width): several vectors per value give the out-of-order core independent chains
/// to overlap. Planar i32 arrays and 8-pixel steps measured slower.
#[inline(always)]
fn shift_block(block: &mut [u8; BLOCK * 3], shift: u8) {
    for i in 0..BLOCK {
        let [h, s, v] = rgb_to_hsv_lane(block[3 * i], block[3 * i + 1], block[3 * i + 2]);
        let [r, g, b] = hsv_to_rgb_lane(h.wrapping_add(shift), s, v);
        (block[3 * i], block[3 * i + 1], block[3 * i + 2]) = (r, g, b);
    }
}

/// torchvision `adjust_hue` on an RGB PIL image; `hue_factor` in [-0.5, 0.5].
pub fn adjust_hue(img: &mut RgbImage, hue_factor: f32) {
    shift_hue(img.as_raw_mut(), hue_shift_u8(hue_factor));
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

    /// Every (a, b, c) of 0..=255³ (every 7th in a debug build, where the float reference is slow).
    fn every_triple() -> impl Iterator<Item = [u8; 3]> {
        let step = if cfg!(debug_assertions) { 7 } else { 1 };
        (0..1u32 << 24).step_by(step).map(|x| [(x >> 16) as u8, (x >> 8) as u8, x as u8])
    }

    #[test]
    fn lane_forms_equal_the_float_definition_on_every_input() {
        for [r, g, b] in every_triple() {
            assert_eq!(rgb_to_hsv_lane(r, g, b), rgb_to_hsv(r, g, b), "rgb {r} {g} {b}");
        }
        for [h, s, v] in every_triple() {
            assert_eq!(hsv_to_rgb_lane(h, s, v), hsv_to_rgb(h, s, v), "hsv {h} {s} {v}");
        }
    }

    #[test]
    fn the_kernel_equals_the_float_definition_on_every_colour() {
        // The lane forms are exact for every input (above), so every shift is covered once the
        // vectorised kernel is shown to compute their composition: every colour, shifts covering
        // wrap-around both ways, and an image whose size is not a whole number of blocks.
        let data: Vec<u8> = every_triple().flatten().chain([9, 200, 31, 4, 4, 4, 250]).collect();
        let data = &data[..data.len() / 3 * 3];
        for shift in [0.0f32, 0.1, -0.1, 0.5, -0.27] {
            let k = hue_shift_u8(shift);
            let mut img = RgbImage::from_raw(data.len() / 3, 1, data.to_vec()).unwrap();
            adjust_hue(&mut img, shift);
            for (px, out) in data.chunks_exact(3).zip(img.as_raw().chunks_exact(3)) {
                let [h, s, v] = rgb_to_hsv(px[0], px[1], px[2]);
                assert_eq!(out, hsv_to_rgb(h.wrapping_add(k), s, v), "{px:?} shift {shift}");
            }
        }
    }

    #[test]
    fn tables_equal_the_float_definition() {
        let t = hue_tables();
        for [r, g, b] in every_triple().step_by(5) {
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            if max == min {
                continue;
            }
            let cr = max - min;
            let case = match (r == max, g == max) {
                (true, _) => usize::from(b != min),
                (false, true) => 2 + usize::from(b != min),
                _ => 4 + usize::from(r != min),
            };
            let d = max - [r, g, b][OTHER[case]];
            let [h, s, _] = rgb_to_hsv(r, g, b);
            assert_eq!(t.hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)], h, "{r} {g} {b}");
            assert_eq!(t.sat[usize::from(max) * 256 + usize::from(cr)], s);
        }
    }
}
