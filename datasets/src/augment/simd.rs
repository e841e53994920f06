//! Runtime choice of an AVX2 build of the hot loops, without `target-cpu=native`.
//!
//! The pixel kernels are plain Rust written so that LLVM vectorises them. On the x86-64 baseline
//! (SSE2) there is no 32-bit lane multiply (`pmulld` is SSE4.1) and vectors are half as wide, so
//! the same loops compiled with AVX2 run several times faster. Building the whole workspace for
//! AVX2 would make the binary crash on older CPUs; instead [`avx2_dispatch!`] compiles each
//! kernel twice and picks at run time (`is_x86_feature_detected!` is a cached atomic load). Both
//! builds execute the same integer and IEEE operations, so they give identical bytes.

/// Defines `fn name(args) -> ret { body }` compiled twice (baseline and AVX2), dispatching on the
/// running CPU. The body must be ordinary safe Rust; no generics.
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    kernel($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the running CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            kernel($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
