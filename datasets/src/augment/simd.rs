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
                if $wide
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the running CPU supports AVX-512 F, BW and VL (BW and VL imply F).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
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
