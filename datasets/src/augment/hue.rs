//! ColorJitter's hue shift on a PIL image: through PIL's 8-bit HSV.
//!
//! torchvision converts to PIL's `"HSV"` mode (every channel 0..=255), adds
//! `uint8(int32(hue_factor·255))` to H with wrap-around, and converts back. The 8-bit
//! quantisation of H and S is part of the result (a shift of 0 is not the identity), so we
//! reproduce PIL's two conversions, including which steps it computes in single and which in
//! double precision.

use super::simd::avx2_dispatch;
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
    /// Hue of (case, m) at `case · BUCKETS + m`, with m = [`bucket`]`(cr, d)`, where every (cr, d)
    /// of that bucket has the same hue; [`AMBIGUOUS`] where they differ, and `hue` decides.
    /// Why it is possible: PIL's quotients make the hue a monotone function of d/cr within a case
    /// (about 43 steps), so all but ~1 % of 4,097 ratio buckets lie between two steps. Why it
    /// pays: 24 KB stays in L1, where a lookup in the 393 KB `hue` waited on L2/L3 (it was the
    /// hottest instruction of the hue, 13.6 % of its samples).
    pub bucketed: Vec<u8>,
    /// 2^24 / cr, truncated (0 for cr = 0): the reciprocal [`bucket`] multiplies by.
    pub recip: [u32; 256],
}

/// Ratio buckets per case in [`Tables::bucketed`]: d/cr in [0, 1] at a resolution of 2^-12.
pub const BUCKETS: usize = (1 << 12) + 1;

/// The marker of a bucket whose pixels do not share one hue (no hue reaches 255: h < 1).
pub const AMBIGUOUS: u8 = 255;

/// The ratio bucket of d/cr, about d·4096/cr (d ≤ cr); any fixed function serves, since
/// [`Tables::bucketed`] is built by running it over every (cr, d).
#[inline(always)]
pub fn bucket(recip: &[u32; 256], cr: u8, d: u8) -> usize {
    ((u32::from(d) * recip[usize::from(cr)]) >> 12) as usize
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
        let recip = std::array::from_fn(|cr| if cr == 0 { 0 } else { (1u32 << 24) / cr as u32 });
        let mut bucketed = vec![None::<u8>; 6 * BUCKETS];
        for case in 0..6 {
            for cr in 1..=255u8 {
                for d in 0..=cr {
                    let h = hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)];
                    let slot = &mut bucketed[case * BUCKETS + bucket(&recip, cr, d)];
                    *slot = Some(match *slot {
                        None => h,
                        Some(b) if b == h => b,
                        Some(_) => AMBIGUOUS,
                    });
                }
            }
        }
        let bucketed = bucketed.into_iter().map(|b| b.unwrap_or(AMBIGUOUS)).collect();
        Tables { hue, sat, sector, frac, fs, bucketed, recip }
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

/// Round half away from zero for x ≥ 0 (as `f64::round`), clamped to 0..=255, without the libm
/// call: x − trunc(x) is exact, so the comparison decides exactly as `round` does. The result is
/// a whole number, so adding 2^52 puts it in the low mantissa bits and a bit cast reads it: loops
/// of this vectorise, where the saturating `as i32` made the compiler convert lane by lane.
#[inline]
fn round8(x: f64) -> u8 {
    let t = x.trunc();
    let r = (t + if x - t >= 0.5 { 1.0 } else { 0.0 }).clamp(0.0, 255.0);
    (r + 4_503_599_627_370_496.0).to_bits() as u8
}

/// Pixels per block of [`shift_hue`]: its arrays (about 2 KB) stay in L1.
const BLOCK: usize = 64;

avx2_dispatch! {
    /// The hue shift of `raw`, a block of pixels at a time in three loops: the table lookups
    /// (scalar), PIL's double-precision HSV → RGB products (a straight loop over arrays, which
    /// the compiler vectorises: one pixel at a time they were the hue's hottest instructions once
    /// the lookups hit L1), and the sector's choice of channels.
    fn shift_hue(raw: &mut [u8], shift: u8, t: &Tables) {
        let (mut v, mut fs, mut f) = ([0f64; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        let (mut p, mut q, mut tv) = ([0u8; BLOCK], [0u8; BLOCK], [0u8; BLOCK]);
        let mut sector = [0u8; BLOCK];
        for block in raw.chunks_mut(BLOCK * 3) {
            for (i, px) in block.chunks_exact(3).enumerate() {
                let (r, g, b) = (px[0], px[1], px[2]);
                let (max, min) = (r.max(g).max(b), r.min(g).min(b));
                // Grey (cr = 0) needs no branch: saturation 0 gives p = q = t = v below, i.e.
                // the same grey whatever the hue, as PIL.
                let cr = max - min;
                let case = classify(r, g, b, max, min);
                let d = max - px[OTHER[case]];
                let mut h = t.bucketed[case * BUCKETS + bucket(&t.recip, cr, d)];
                if h == AMBIGUOUS {
                    h = t.hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)];
                }
                let h = usize::from(h.wrapping_add(shift));
                let s = t.sat[usize::from(max) * 256 + usize::from(cr)];
                v[i] = f64::from(max);
                fs[i] = t.fs[usize::from(s)];
                f[i] = t.frac[h];
                sector[i] = t.sector[h];
            }
            // All BLOCK lanes: those past a short last block hold the previous block's values.
            for i in 0..BLOCK {
                let (vf, fs, f) = (v[i], fs[i], f[i]);
                p[i] = round8(vf * (1.0 - f64::from(fs)));
                q[i] = round8(vf * (1.0 - f64::from(fs * f)));
                tv[i] = round8(vf * (1.0 - f64::from(fs) * (1.0 - f64::from(f))));
            }
            for (i, px) in block.chunks_exact_mut(3).enumerate() {
                let sector = usize::from(sector[i]);
                let mid = if sector & 1 == 1 { q[i] } else { tv[i] };
                let values = [v[i] as u8, mid, p[i]];
                let src = SECTOR_SOURCE[sector];
                px[0] = values[src[0]];
                px[1] = values[src[1]];
                px[2] = values[src[2]];
            }
        }
    }
}

/// torchvision `adjust_hue` on an RGB PIL image; `hue_factor` in [-0.5, 0.5].
pub fn adjust_hue(img: &mut RgbImage, hue_factor: f32) {
    shift_hue(img.as_raw_mut(), hue_shift_u8(hue_factor), tables());
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
    fn ratio_buckets_agree_with_the_full_table_and_rarely_defer_to_it() {
        let t = tables();
        let (mut pairs, mut deferred) = (0, 0);
        for case in 0..6 {
            for cr in 1..=255u8 {
                for d in 0..=cr {
                    let b = t.bucketed[case * BUCKETS + bucket(&t.recip, cr, d)];
                    let full = t.hue[(case * 256 + usize::from(cr)) * 256 + usize::from(d)];
                    assert!(b == full || b == AMBIGUOUS, "case {case} cr {cr} d {d}");
                    pairs += 1;
                    deferred += usize::from(b == AMBIGUOUS);
                }
            }
        }
        eprintln!("{deferred} of {pairs}");
        assert!(deferred * 20 < pairs, "{deferred} of {pairs} (case, cr, d) defer to the full table");
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
