//! The part of a JPEG that one crop needs, decoded by libjpeg-turbo's decoder (mozjpeg's build
//! of it, compiled from source by `mozjpeg-sys`: no system library, SIMD when `nasm` is found).
//!
//! Three kinds of work are skipped, all with libjpeg-turbo's own entry points:
//! - **DCT scaling**: when the crop's shorter side is at least 2, 4 or 8 times the output side,
//!   the inverse DCT produces the image at 1/2, 1/4 or 1/8 size directly (`scale_denom`), so
//!   neither the full-size pixels nor the larger resize are paid for. This changes the pixels a
//!   little (a scaled IDCT is not a box filter followed by PIL's resize).
//! - **Columns** outside the crop are not inverse-transformed, upsampled or colour-converted
//!   (`jpeg_crop_scanline`, rounded out to whole iMCUs).
//! - **Rows**: those above the crop are skipped without IDCT (`jpeg_skip_scanlines`), and decoding
//!   stops after the crop's last row, so the entropy-coded data below it is never read
//!   (baseline files; a progressive file is entropy-decoded whole by `jpeg_start_decompress`).
//!
//! The entropy-coded data is decoded by [`super::huffman`], which libjpeg calls in place of its own
//! Huffman decoder for the files that decoder handles.
//!
//! At scale 1 the pixels are libjpeg-turbo's with its defaults (ISLOW IDCT, fancy upsampling),
//! which are PIL's. Any file this path does not handle (CMYK/YCCK, arithmetic coding, a warning
//! about corrupt data, entropy-coded data the Huffman decoder finds corrupt, a libjpeg error)
//! answers `None`, and the caller decodes it the full way,
//! which gives PIL's verdict on it.

use std::ffi::c_void;
use std::os::raw::{c_int, c_ulong};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use mozjpeg_sys::{
    boolean, jpeg_common_struct, jpeg_create_decompress, jpeg_crop_scanline, jpeg_decompress_struct,
    jpeg_destroy_decompress, jpeg_error_mgr, jpeg_mem_src, jpeg_read_header, jpeg_read_scanlines, jpeg_skip_scanlines,
    jpeg_start_decompress, jpeg_std_error, JBLOCKROW, J_COLOR_SPACE,
};

use super::huffman::EntropyDecoder;

use crate::augment::resize::SubpixelBox;
use crate::augment::CropBox;
use crate::rgb::RgbImage;

/// A decoded window and where the crop lies in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The decoded pixels (a window of the image, possibly DCT-scaled).
    pub image: RgbImage,
    /// The crop in `image`'s pixels: whole pixels at scale 1, fractional edges when scaled (the
    /// resize then samples the same places it would at full size).
    pub crop: SubpixelBox,
    /// The DCT scale denominator used (1, 2, 4 or 8).
    pub scale: usize,
}

/// The largest denominator d ∈ {1, 2, 4, 8} that keeps the crop's shorter side ≥ `out_side`
/// after scaling by 1/d: shrinking further would make the resize upsample what it now shrinks.
pub fn dct_scale_for(crop: CropBox, out_side: usize) -> usize {
    let short = crop.width.min(crop.height);
    [8, 4, 2].into_iter().find(|&d| short >= d * out_side.max(1)).unwrap_or(1)
}

/// Decodes the window of `bytes` (a JPEG) that `crop` (a box in the full-size image) needs for an
/// `out_side`² view. `None` when this path does not handle the file (see the module notes).
pub fn decode_jpeg_region(bytes: &[u8], crop: CropBox, out_side: usize) -> Option<Region> {
    JpegHeader::read(bytes)?.decode_window(crop, out_side)
}

/// Which Huffman decoder a window is decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entropy {
    /// [`super::huffman`] where it handles the file, else libjpeg's (what training views use).
    Ours,
    /// libjpeg-turbo's own: the reference the tests and `op_times` compare with.
    Libjpeg,
}

/// What libjpeg's callbacks reach through `client_data`.
struct Client<'a> {
    /// libjpeg's warnings about corrupt data it worked around.
    warnings: c_int,
    /// The scan's entropy decoder, once installed.
    entropy: Option<EntropyDecoder<'a>>,
}

/// A JPEG whose header libjpeg has read: its size is known and no pixel is decoded yet, so a
/// caller checks the size and chooses the crop from this one header read.
pub struct JpegHeader<'a> {
    // Boxed: libjpeg keeps pointers to the error manager and to the client (warnings, decoder).
    cinfo: Box<jpeg_decompress_struct>,
    _err: Box<jpeg_error_mgr>,
    client: Box<Client<'a>>,
    // libjpeg reads the file from this borrow.
    bytes: &'a [u8],
}

impl<'a> JpegHeader<'a> {
    /// Reads the header of `bytes`; `None` when it is not a JPEG this path handles (a colour
    /// space other than YCbCr, RGB or grey, or a libjpeg error or warning in the header).
    pub fn read(bytes: &'a [u8]) -> Option<Self> {
        let mut err: Box<jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
        let mut cinfo: Box<jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        let mut client = Box::new(Client { warnings: 0, entropy: None });
        // SAFETY: `err`, `cinfo` and `client` are boxed and move into the returned value, which
        // destroys the decompressor when dropped; `bytes` outlives it ('a). Errors unwind out of
        // libjpeg (mozjpeg-sys compiles it with -fexceptions) into `catch_unwind`, after which
        // the object is still valid for `jpeg_destroy_decompress`, as after libjpeg's longjmp.
        unsafe {
            jpeg_std_error(&mut err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(count_warning);
            cinfo.common.err = &mut *err;
            cinfo.common.client_data = (&mut *client as *mut Client).cast::<c_void>();
            jpeg_create_decompress(&mut *cinfo);
        }
        let mut header = Self { cinfo, _err: err, client, bytes };
        let cinfo = &mut *header.cinfo;
        let read = catch_unwind(AssertUnwindSafe(|| unsafe {
            jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
            const JPEG_HEADER_OK: c_int = 1;
            jpeg_read_header(cinfo, 1) == JPEG_HEADER_OK
        }));
        let supported = matches!(
            (header.cinfo.jpeg_color_space, header.cinfo.num_components),
            (J_COLOR_SPACE::JCS_YCbCr | J_COLOR_SPACE::JCS_RGB, 3) | (J_COLOR_SPACE::JCS_GRAYSCALE, 1)
        );
        (matches!(read, Ok(true)) && supported && header.client.warnings == 0).then_some(header)
    }

    /// Width and height from the header.
    pub fn size(&self) -> (u32, u32) {
        (self.cinfo.image_width, self.cinfo.image_height)
    }

    /// Decodes the window that `crop` (a box in the full-size image) needs for an `out_side`²
    /// view. `None` when the crop is not inside the image, or the data is corrupt (libjpeg fails
    /// or warns, or the Huffman decoder fails).
    pub fn decode_window(self, crop: CropBox, out_side: usize) -> Option<Region> {
        self.decode_window_with(crop, out_side, Entropy::Ours)
    }

    /// [`JpegHeader::decode_window`] with the Huffman decoder chosen.
    pub fn decode_window_with(mut self, crop: CropBox, out_side: usize, entropy: Entropy) -> Option<Region> {
        let (width, height) = self.size();
        let inside = crop.left + crop.width <= width as usize && crop.top + crop.height <= height as usize;
        if !inside || crop.width == 0 || crop.height == 0 {
            return None;
        }
        let (cinfo, bytes) = (&mut *self.cinfo, self.bytes);
        let result = catch_unwind(AssertUnwindSafe(|| unsafe { decode_window(cinfo, bytes, crop, out_side, entropy) }));
        match result {
            Ok(region) if self.client.warnings == 0 => region,
            _ => None,
        }
    }
}

impl Drop for JpegHeader<'_> {
    fn drop(&mut self) {
        // SAFETY: made by `jpeg_create_decompress` in `read`; destroying mid-decode is allowed,
        // and the rows below a crop are never decoded because of it.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

/// The decode proper, after the header, of the file `bytes`; libjpeg errors unwind out of it.
unsafe fn decode_window(
    cinfo: &mut jpeg_decompress_struct,
    bytes: &[u8],
    crop: CropBox,
    out_side: usize,
    entropy: Entropy,
) -> Option<Region> {
    let scale = dct_scale_for(crop, out_side);
    cinfo.out_color_space = J_COLOR_SPACE::JCS_RGB;
    cinfo.scale_num = 1;
    cinfo.scale_denom = scale as _;
    jpeg_start_decompress(cinfo);
    // The scan's data starts where libjpeg's source manager stands after the headers.
    let src = &*cinfo.src;
    let rest = (src.next_input_byte as usize).checked_sub(bytes.as_ptr() as usize).and_then(|at| bytes.get(at..));
    if let (Entropy::Ours, Some(rest)) = (entropy, rest) {
        if let Some(decoder) = EntropyDecoder::for_scan(cinfo, rest) {
            (*cinfo.common.client_data.cast::<Client>()).entropy = Some(decoder);
            EntropyDecoder::install(cinfo, decode_mcu);
            #[cfg(test)]
            INSTALLS.with(|n| n.set(n.get() + 1));
        }
    }
    let (full_w, full_h) = (cinfo.output_width as usize, cinfo.output_height as usize);
    // The crop in scaled pixels (exact: the scale is a power of two) and the whole pixels it touches.
    let d = scale as f64;
    let exact = SubpixelBox {
        left: crop.left as f64 / d,
        top: crop.top as f64 / d,
        width: crop.width as f64 / d,
        height: crop.height as f64 / d,
    };
    let (x0, y0) = ((exact.left as usize).min(full_w - 1), (exact.top as usize).min(full_h - 1));
    let x1 = ((exact.left + exact.width).ceil() as usize).clamp(x0 + 1, full_w);
    let y1 = ((exact.top + exact.height).ceil() as usize).clamp(y0 + 1, full_h);
    let (mut win_x, mut win_w) = (x0 as u32, (x1 - x0) as u32);
    if win_w as usize != full_w {
        jpeg_crop_scanline(cinfo, &mut win_x, &mut win_w);
    }
    let stride = cinfo.output_width as usize * 3;
    if y0 > 0 && jpeg_skip_scanlines(cinfo, y0 as u32) as usize != y0 {
        return None;
    }
    let rows = y1 - y0;
    let mut data = vec![0u8; stride * rows];
    let mut done = 0;
    while done < rows {
        let mut row = data[done * stride..].as_mut_ptr();
        let read = jpeg_read_scanlines(cinfo, &mut row, 1) as usize;
        if read == 0 {
            return None;
        }
        done += read;
    }
    let image = RgbImage::from_raw(cinfo.output_width as usize, rows, data).ok()?;
    let crop = SubpixelBox { left: exact.left - f64::from(win_x), top: exact.top - y0 as f64, ..exact };
    Some(Region { image, crop, scale })
}

/// libjpeg's fatal errors: unwind to `catch_unwind` without running the panic hook (no message
/// on stderr; the caller falls back to the full decoder, which reports the file).
pub(crate) extern "C-unwind" fn error_exit(_cinfo: &mut jpeg_common_struct) {
    resume_unwind(Box::new("libjpeg error"));
}

#[cfg(test)]
thread_local! {
    /// Windows of this thread decoded by [`super::huffman`] (tests check which decoder ran).
    static INSTALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many windows this thread has decoded with [`super::huffman`].
#[cfg(test)]
pub(crate) fn installs_on_this_thread() -> usize {
    INSTALLS.with(|n| n.get())
}

/// libjpeg's entropy decoder once [`EntropyDecoder::install`]ed: decodes one MCU (see
/// [`EntropyDecoder::decode_mcu`]) and keeps libjpeg's source manager at the data read so far.
/// Corrupt data unwinds as libjpeg's errors do.
extern "C-unwind" fn decode_mcu(cinfo: &mut jpeg_decompress_struct, mcu: *mut JBLOCKROW) -> boolean {
    // SAFETY: installed only after `client_data`'s `Client` got its decoder, which reads the
    // file that libjpeg's source manager holds; `mcu` is libjpeg's block pointers or null.
    unsafe {
        let client = &mut *cinfo.common.client_data.cast::<Client>();
        let decoder = client.entropy.as_mut().expect("installed with its decoder");
        if decoder.decode_mcu(mcu).is_err() {
            resume_unwind(Box::new("corrupt entropy-coded data"));
        }
        let (src, unread) = (&mut *cinfo.src, decoder.unread());
        src.next_input_byte = unread.as_ptr();
        src.bytes_in_buffer = unread.len();
    }
    1
}

/// libjpeg's warnings (level −1: corrupt data it worked around) are counted, so that such a file
/// goes the full way instead; trace messages (level ≥ 0) are ignored.
extern "C-unwind" fn count_warning(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level < 0 {
        // SAFETY: `client_data` points at the `Client` of the `JpegHeader` being read.
        unsafe { (*cinfo.client_data.cast::<Client>()).warnings += 1 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_needs_the_crop_at_least_that_many_times_the_output() {
        let crop = |w, h| CropBox { top: 0, left: 0, height: h, width: w };
        assert_eq!(dct_scale_for(crop(447, 900), 224), 1);
        assert_eq!(dct_scale_for(crop(448, 900), 224), 2);
        assert_eq!(dct_scale_for(crop(1000, 896), 224), 4);
        assert_eq!(dct_scale_for(crop(4000, 1792), 224), 8);
    }

    #[test]
    fn the_window_at_scale_one_is_the_full_decode_cut_out() {
        let img =
            image::RgbImage::from_fn(97, 75, |x, y| image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92).encode_image(&img).unwrap();
        let crop = CropBox { top: 21, left: 37, height: 40, width: 33 };
        let full = decode_jpeg_region(&jpeg, CropBox { top: 0, left: 0, height: 75, width: 97 }, 224).unwrap();
        assert_eq!((full.image.width(), full.image.height(), full.scale), (97, 75, 1));
        let part = decode_jpeg_region(&jpeg, crop, 20).unwrap();
        assert_eq!(part.scale, 1);
        assert!(part.image.width() < 97 && part.image.height() == 40, "only the crop's rows, whole iMCUs of columns");
        let (left, top) = (part.crop.left as usize, part.crop.top as usize);
        assert_eq!(SubpixelBox { left: left as f64, top: top as f64, ..part.crop }, part.crop, "whole pixels");
        for y in 0..crop.height {
            for x in 0..crop.width {
                let a = part.image.pixel(left + x, top + y);
                let b = full.image.pixel(crop.left + x, crop.top + y);
                assert_eq!(a, b, "pixel ({x}, {y}) of the crop");
            }
        }
        let scaled = decode_jpeg_region(&jpeg, crop, 8).unwrap();
        assert_eq!((scaled.scale, scaled.crop.top, scaled.crop.height), (4, 0.25, 10.0));
        assert_eq!(scaled.image.height(), 11, "rows 5 to 15 hold rows 5.25 to 15.25");
        assert!(decode_jpeg_region(&jpeg[..jpeg.len() / 2], crop, 20).is_none(), "a cut file goes the full way");
        assert!(decode_jpeg_region(b"not a jpeg at all", crop, 20).is_none());
    }
}
