//! ColorJitter's hue shift on `[n, 3, H, W]` f32 batches of integers 0..=255, through PIL's
//! 8-bit HSV as `lgd_datasets::augment::hue` defines it: its lookup tables (built from PIL's
//! float maths, copied to the device once) for RGB → HSV, and PIL's mix of single- and
//! double-precision steps for HSV → RGB, so every byte matches the host path.

use lgd_datasets::augment::hue::{hue_shift_u8, hue_tables, OTHER, SECTOR_SOURCE};
use tch::{Device, Kind, Tensor};

/// The host path's tables on the device.
#[derive(Debug)]
pub(super) struct HueTables {
    /// Hue of (case, cr, d) at `(case · 256 + cr) · 256 + d`.
    hue: Tensor,
    /// Saturation of (max, cr) at `max · 256 + cr`.
    sat: Tensor,
    /// Sector of an 8-bit hue.
    sector: Tensor,
    /// Fraction within the sector (f32).
    frac: Tensor,
    /// s/255 (f32).
    fs: Tensor,
    /// For each case, which channel holds the third value.
    other: Tensor,
    /// For each sector, where R, G and B take their value from among [v, mid, p].
    source: Tensor,
}

impl HueTables {
    pub(super) fn new(device: Device) -> Self {
        let t = hue_tables();
        let bytes =
            |v: &[u8]| Tensor::from_slice(&v.iter().map(|&b| i64::from(b)).collect::<Vec<_>>()).to_device(device);
        let source: Vec<i64> = SECTOR_SOURCE.iter().flatten().map(|&s| s as i64).collect();
        Self {
            hue: bytes(&t.hue),
            sat: bytes(&t.sat),
            sector: bytes(&t.sector),
            frac: Tensor::from_slice(&t.frac).to_device(device),
            fs: Tensor::from_slice(&t.fs).to_device(device),
            other: Tensor::from_slice(&OTHER.map(|o| o as i64)).to_device(device),
            source: Tensor::from_slice(&source).reshape([6, 3]).to_device(device),
        }
    }

    /// Shifts the hue of view i by `shifts[i]` (torchvision's hue factor, in [−0.5, 0.5]).
    pub(super) fn shift(&self, x: &Tensor, shifts: &[f32]) -> Tensor {
        let device = x.device();
        let rgb = x.to_kind(Kind::Int64);
        let (r, g, b) = (rgb.narrow(1, 0, 1), rgb.narrow(1, 1, 1), rgb.narrow(1, 2, 1));
        let max = r.maximum(&g).maximum(&b);
        let min = r.minimum(&g).minimum(&b);
        let cr = &max - &min;
        // The case: which channel is the maximum (ties: R, then G) and which other one the minimum.
        let b_not_min = b.ne_tensor(&min).to_kind(Kind::Int64);
        let r_not_min = r.ne_tensor(&min).to_kind(Kind::Int64);
        let if_b = r_not_min + 4;
        let if_g = &b_not_min + 2;
        let not_r = if_g.where_self(&g.eq_tensor(&max), &if_b);
        let case = b_not_min.where_self(&r.eq_tensor(&max), &not_r);
        let third = rgb.gather(1, &self.other.take(&case), false);
        let d = &max - third;
        let shift: Vec<i64> = shifts.iter().map(|&s| i64::from(hue_shift_u8(s))).collect();
        let shift = crate::torch_ext::upload(Tensor::from_slice(&shift), device).reshape([-1, 1, 1, 1]);
        let h = (self.hue.take(&((&case * 256 + &cr) * 256 + d)) + shift).remainder(256);
        let s = self.sat.take(&(&max * 256 + &cr));
        let f = self.frac.take(&h);
        let fs = self.fs.take(&s);
        let v = max.to_kind(Kind::Double);
        let one_minus = |t: Tensor| 1.0 - t;
        let p = round8(&(&v * one_minus(fs.to_kind(Kind::Double))));
        let q = round8(&(&v * one_minus((&fs * &f).to_kind(Kind::Double))));
        let t = round8(&(&v * one_minus(fs.to_kind(Kind::Double) * one_minus(f.to_kind(Kind::Double)))));
        let sector = self.sector.take(&h);
        let mid = q.where_self(&sector.remainder(2).eq(1), &t);
        let values = Tensor::cat(&[max, mid, p], 1);
        // [n, 1, H, W] sector → [n, 3, H, W] source slot per output channel.
        let source = self.source.index_select(0, &sector.flatten(0, -1)).reshape([
            sector.size()[0],
            sector.size()[2],
            sector.size()[3],
            3,
        ]);
        values.gather(1, &source.permute([0, 3, 1, 2]), false).to_kind(Kind::Float)
    }
}

/// Round half away from zero for x ≥ 0, decided as the host decides it (x − trunc(x) ≥ 0.5,
/// exact in double precision), clamped to 0..=255; int64.
fn round8(x: &Tensor) -> Tensor {
    let whole = x.trunc();
    let up = (x - &whole).ge(0.5).to_kind(Kind::Double);
    (whole + up).clamp(0.0, 255.0).to_kind(Kind::Int64)
}
