//! Baseline JPEG encoding by libjpeg-turbo: the encoder half of the library whose decoder the
//! training views already use (mozjpeg's build, compiled by `mozjpeg-sys`, SIMD with `nasm`).
//!
//! Why this encoder: on the benchmark's photos it is the fastest at hand, and it codes as OpenCV
//! (FFCV's encoder, libjpeg-turbo too) does — same tables, same Huffman coding — so pack sizes
//! compare like with like; see ARCHITECTURE.md ("Re-encoding a pack") for the figures against
//! `jpeg-encoder` and `image`'s encoder. mozjpeg's own extensions
//! (trellis quantisation, progressive scans, its quantisation tables) are switched off with the
//! `JCP_FASTEST` profile: they trade encode time for bytes, and the training views' window decode
//! (`decode::jpeg_region`) would have to entropy-decode a progressive file whole. What remains
//! is libjpeg-turbo's default: the standard (Annex K) tables scaled by quality, ISLOW DCT, standard
//! Huffman tables, and chroma as [`Chroma`] says.

use std::os::raw::{c_int, c_ulong};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mozjpeg_sys::{
    jpeg_c_set_int_param, jpeg_compress_struct, jpeg_create_compress, jpeg_destroy_compress, jpeg_error_mgr,
    jpeg_finish_compress, jpeg_mem_dest, jpeg_set_defaults, jpeg_set_quality, jpeg_start_compress, jpeg_std_error,
    jpeg_write_scanlines, JCP_FASTEST, JINT_COMPRESS_PROFILE, J_COLOR_SPACE,
};

use crate::decode::jpeg_region::error_exit;
use crate::rgb::RgbImage;

use super::format::Chroma;

/// Why an image could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// libjpeg stores sides up to 65 500 pixels; empty images have nothing to store.
    #[error("a {width}x{height} image cannot be stored as JPEG (sides must be 1 to 65500 pixels)")]
    Size {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// libjpeg stopped with an error (not expected for a valid size and quality).
    #[error("libjpeg failed to encode a {width}x{height} image at quality {quality}")]
    Library {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// The quality asked for.
        quality: u8,
    },
}

/// Encodes `image` as a baseline JPEG at `quality` (clamped to 1..=100 by libjpeg) with `chroma`.
pub fn encode_jpeg(image: &RgbImage, quality: u8, chroma: Chroma) -> Result<Vec<u8>, EncodeError> {
    encode_jpeg_with(image, quality, chroma, false)
}

/// [`encode_jpeg`], with Huffman tables made for the image when `optimize_huffman` (still one
/// baseline scan; the tests of the window decoder's Huffman decoding use them for long codes).
pub(crate) fn encode_jpeg_with(
    image: &RgbImage,
    quality: u8,
    chroma: Chroma,
    optimize_huffman: bool,
) -> Result<Vec<u8>, EncodeError> {
    let (width, height) = (image.width(), image.height());
    if !(1..=65_500).contains(&width) || !(1..=65_500).contains(&height) {
        return Err(EncodeError::Size { width, height });
    }
    let mut err: Box<jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
    let mut cinfo: Box<jpeg_compress_struct> = Box::new(unsafe { std::mem::zeroed() });
    // libjpeg allocates the output with malloc (and grows it with realloc) while writing.
    let mut buffer: *mut u8 = std::ptr::null_mut();
    let mut size: c_ulong = 0;
    // SAFETY: `err`, `cinfo`, `buffer` and `size` are boxed or outlive every libjpeg call below;
    // errors unwind out of libjpeg (mozjpeg-sys compiles it with -fexceptions) into
    // `catch_unwind`, after which the object is still valid for `jpeg_destroy_compress`.
    unsafe {
        jpeg_std_error(&mut err);
        err.error_exit = Some(error_exit);
        cinfo.common.err = &mut *err;
        jpeg_create_compress(&mut *cinfo);
    }
    let written = catch_unwind(AssertUnwindSafe(|| unsafe {
        jpeg_mem_dest(&mut cinfo, &mut buffer, &mut size);
        compress(&mut cinfo, image, quality, chroma, optimize_huffman);
    }));
    unsafe { jpeg_destroy_compress(&mut cinfo) };
    let out = (written.is_ok() && !buffer.is_null())
        // SAFETY: after `jpeg_finish_compress`, `buffer` holds `size` bytes of the file.
        .then(|| unsafe { std::slice::from_raw_parts(buffer, size as usize) }.to_vec());
    if !buffer.is_null() {
        // SAFETY: allocated by libjpeg's memory destination with malloc, never freed by it.
        unsafe { libc::free(buffer.cast()) };
    }
    out.ok_or(EncodeError::Library { width, height, quality })
}

/// The compression proper; libjpeg errors unwind out of it.
unsafe fn compress(cinfo: &mut jpeg_compress_struct, image: &RgbImage, quality: u8, chroma: Chroma, optimize: bool) {
    cinfo.image_width = image.width() as u32;
    cinfo.image_height = image.height() as u32;
    cinfo.input_components = 3;
    cinfo.in_color_space = J_COLOR_SPACE::JCS_RGB;
    // Before `jpeg_set_defaults`, which reads the profile to pick its defaults.
    jpeg_c_set_int_param(cinfo, JINT_COMPRESS_PROFILE, JCP_FASTEST as c_int);
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, c_int::from(quality), 1);
    cinfo.optimize_coding = c_int::from(optimize);
    // `jpeg_set_defaults` chose YCbCr with luma sampled 2×2 (4:2:0) and each chroma plane 1×1.
    let luma = &mut *cinfo.comp_info;
    let factor = match chroma {
        Chroma::Yuv420 => 2,
        Chroma::Yuv444 => 1,
    };
    luma.h_samp_factor = factor;
    luma.v_samp_factor = factor;
    jpeg_start_compress(cinfo, 1);
    let stride = image.width() * 3;
    let rows: Vec<*const u8> = image.as_raw().chunks_exact(stride).map(<[u8]>::as_ptr).collect();
    let mut done = 0;
    while done < rows.len() {
        done += jpeg_write_scanlines(cinfo, rows[done..].as_ptr(), (rows.len() - done) as u32) as usize;
    }
    jpeg_finish_compress(cinfo);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packed::sampling::sampling_factors;

    fn gradient(w: usize, h: usize) -> RgbImage {
        let data = (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 100]).collect();
        RgbImage::from_raw(w, h, data).unwrap()
    }

    #[test]
    fn chroma_sets_the_sampling_factors_and_the_file_decodes() {
        let img = gradient(67, 45);
        for (chroma, luma) in [(Chroma::Yuv420, (2, 2)), (Chroma::Yuv444, (1, 1))] {
            let jpeg = encode_jpeg(&img, 90, chroma).unwrap();
            assert_eq!(sampling_factors(&jpeg).unwrap(), vec![luma, (1, 1), (1, 1)], "{chroma}");
            let back = crate::decode::decode(&jpeg, std::path::Path::new("x.jpg"), &Default::default()).unwrap();
            assert_eq!((back.width(), back.height()), (67, 45));
            let worst = back.as_raw().iter().zip(img.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(worst <= 12, "{chroma}: worst difference {worst}");
        }
    }

    #[test]
    fn a_size_jpeg_cannot_hold_is_refused() {
        let e = encode_jpeg(&RgbImage::new(0, 5), 90, Chroma::Yuv420).unwrap_err();
        assert!(e.to_string().contains("0x5"), "{e}");
    }
}
