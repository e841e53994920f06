//! Runtime choice of an AVX-512 or AVX2 build of the hot loops, without `target-cpu=native`.
//!
//! The pixel kernels are plain Rust written so that LLVM vectorises them. On the x86-64 baseline
//! (SSE2) there is no 32-bit lane multiply (`pmulld` is SSE4.1) and vectors are half as wide, so
//! the same loops compiled with AVX2 run several times faster, and with AVX-512 (BW and VL: byte
//! and word lanes, masked tails) the compute-bound ones — hue, blur, the enhancers' blends — a
//! quarter to a third faster again (`examples/op_times.rs`). Building the whole workspace for either would make the binary
//! crash on older CPUs; instead [`simd_dispatch!`] compiles each kernel once per level and picks at
//! run time (`is_x86_feature_detected!` is a cached atomic load). Every build executes the same
//! integer and IEEE operations lane by lane (LLVM does not reassociate float arithmetic), so they
//! give identical bytes.

/// Defines `fn name(args) -> ret { body }` compiled for the baseline, AVX2 and AVX-512 and
/// dispatching on the running CPU. Written `simd_dispatch! { avx2 only: fn … }`, the AVX-512 build
/// is skipped, for a kernel that its wider shuffles slow down (the planar normalise). The body
/// must be ordinary safe Rust; no generics.
macro_rules! simd_dispatch {
    (avx2 only: $($function:tt)*) => {
        $crate::augment::simd::simd_dispatch!(@levels false; $($function)*);
    };
    (@levels $wide:literal; $(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    kernel($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    kernel($($arg),*)
                }
                use $crate::augment::simd::{allows, Level};
                if $wide
                    && allows(Level::Avx512)
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the running CPU supports AVX-512 F, BW and VL (BW and VL imply F).
                    return unsafe { avx512($($arg),*) };
                }
                if allows(Level::Avx2) && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the running CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            kernel($($arg),*)
        }
    };
    ($($function:tt)*) => {
        $crate::augment::simd::simd_dispatch!(@levels true; $($function)*);
    };
}

pub(crate) use simd_dispatch;

/// The builds [`simd_dispatch!`] chooses from, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    #[cfg_attr(not(test), allow(dead_code))] // only the tests ask for it: it is always allowed
    Baseline,
    Avx2,
    Avx512,
}

#[cfg(test)]
thread_local! {
    /// The widest build the kernels may use on this thread: the tests lower it to compare every
    /// build the machine has on the same inputs.
    pub(crate) static CAP: std::cell::Cell<Level> = const { std::cell::Cell::new(Level::Avx512) };
}

/// Whether a kernel may run its `level` build (when the CPU has it). Always, outside the tests.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn allows(_level: Level) -> bool {
    true
}

#[cfg(test)]
pub(crate) fn allows(level: Level) -> bool {
    CAP.with(|cap| level <= cap.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::blur::gaussian_blur;
    use crate::augment::{AugmentationConfig, Augmenter};
    use crate::rgb::RgbImage;

    /// Forty MoCo-v2 views of one noisy image (jitter, grayscale, blur, flip and normalise all
    /// drawn several times) and a wide blur, as bytes and float bits, with builds up to `level`.
    fn outputs_up_to(level: Level) -> Vec<(Vec<u8>, Vec<u32>)> {
        CAP.with(|cap| cap.set(level));
        let aug = Augmenter::new(AugmentationConfig::default()).unwrap();
        let (w, h) = (301, 257);
        let noise = (0..w * h * 3).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let img = RgbImage::from_raw(w, h, noise).unwrap();
        let mut out: Vec<_> = (0..40)
            .map(|index| {
                let view = aug.view(&img, 5, 0, index);
                let mut planes = vec![0f32; 3 * 224 * 224];
                aug.normalize_into(&view, &mut planes);
                (view.into_raw(), planes.iter().map(|v| v.to_bits()).collect())
            })
            .collect();
        let mut wide = img.clone();
        gaussian_blur(&mut wide, 7.5);
        out.push((wide.into_raw(), Vec::new()));
        CAP.with(|cap| cap.set(Level::Avx512));
        out
    }

    #[test]
    fn every_build_gives_the_same_bytes() {
        let aug = Augmenter::new(AugmentationConfig::default()).unwrap();
        let params: Vec<_> = (0..40).map(|i| aug.params_for(5, 0, i, 301, 257)).collect();
        assert!(params.iter().any(|p| p.jitter.is_some()) && params.iter().any(|p| p.grayscale));
        assert!(params.iter().any(|p| p.blur_sigma.is_some()) && params.iter().any(|p| p.flip));
        let widest = outputs_up_to(Level::Avx512);
        for level in [Level::Avx2, Level::Baseline] {
            assert!(outputs_up_to(level) == widest, "the {level:?} build differs from the widest");
        }
    }
}
