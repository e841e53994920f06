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

/// torchvision `adjust_hue` on an RGB PIL image; `hue_factor` in [-0.5, 0.5].
pub fn adjust_hue(img: &mut RgbImage, hue_factor: f32) {
    let shift = hue_shift_u8(hue_factor);
    for px in img.as_raw_mut().chunks_exact_mut(3) {
        let [h, s, v] = rgb_to_hsv(px[0], px[1], px[2]);
        px.copy_from_slice(&hsv_to_rgb(h.wrapping_add(shift), s, v));
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
}
