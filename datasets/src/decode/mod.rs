//! Image bytes → [`RgbImage`], with the colour conversions of PIL's `Image.convert("RGB")`.
//!
//! torchvision's `ImageFolder` loads a sample with `Image.open(f).convert("RGB")`; this module is
//! that loader. What it deliberately reproduces, and why:
//! - **EXIF orientation is ignored.** PIL's loader never calls `ImageOps.exif_transpose`, so a
//!   photo stored sideways with an orientation tag is trained on sideways; doing otherwise would
//!   change the training distribution against the original.
//! - **Alpha is dropped, not composited** (RGBA, LA, palette with transparency): PIL's
//!   `convert("RGB")` discards the alpha band.
//! - **Grey is replicated** to three channels; **16-bit samples keep their high byte** (PIL's
//!   `RGB;16B` raw mode). For 16-bit *grey* PNGs PIL opens mode `I;16` and clips every value above
//!   255 to white, which destroys the image; we keep the high byte instead (documented deviation).
//! - **CMYK JPEGs** (Adobe, inverted) become RGB as `R = (255−C)(255−K)/255`, PIL's `cmyk2rgb`.
//! - **Decompression bombs** are refused from the header, before any pixel is decoded, with PIL's
//!   error threshold by default (2 × `Image.MAX_IMAGE_PIXELS`).
//!
//! [`decode`] is the full-size path (zune-jpeg for JPEGs, through `image`). [`read_header`] then
//! [`Header::decode_region`] is the training-view shortcut: for a JPEG it reads the header once
//! and decodes only what one crop needs, at a reduced DCT scale when the crop allows
//! ([`jpeg_region`]); its pixels are close to the full path's, not equal.

mod convert;
mod huffman;
pub mod jpeg_region;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::augment::CropBox;
use crate::rgb::RgbImage;
pub use jpeg_region::Region;

/// PIL's `Image.MAX_IMAGE_PIXELS` (1024·1024·1024 / 4 / 3): above it PIL warns.
pub const PIL_MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// PIL raises `DecompressionBombError` above twice its warning threshold; so do we by default.
pub const DEFAULT_MAX_PIXELS: u64 = 2 * PIL_MAX_IMAGE_PIXELS;

/// Why a file could not become an RGB image. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Zero bytes: usually an interrupted copy.
    #[error("{path}: the file is empty (0 bytes)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The first bytes match no image format we decode.
    #[error("{path}: not an image in a supported format (JPEG, PNG, GIF, BMP, TIFF, WebP, ICO, PNM, TGA)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The header announces more pixels than allowed (a decompression bomb, or a wrong limit).
    #[error(
        "{path}: {width}x{height} = {pixels} pixels exceeds the limit of {max_pixels} \
         (decompression-bomb guard; if the image is genuine, raise the limit: `data.max_pixels` \
         for lgd train, `--max-pixels` for lgd prepare pack)"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Announced width.
        width: u32,
        /// Announced height.
        height: u32,
        /// width · height.
        pixels: u64,
        /// The configured limit.
        max_pixels: u64,
    },
    /// A zero width or height in the header.
    #[error("{path}: the image has no pixels ({width}x{height})")]
    NoPixels {
        /// The file.
        path: PathBuf,
        /// Announced width.
        width: u32,
        /// Announced height.
        height: u32,
    },
    /// A JPEG whose data stops before its end-of-image marker. The decoder would fill the
    /// missing part with grey; PIL (and so torchvision's loader) refuses such a file.
    #[error("{path}: truncated JPEG (the data ends before the end-of-image marker)")]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// libjpeg's header and the full decoder disagree on the size (the crop was drawn for the
    /// first): a file with more than one frame header.
    #[error("{path}: the header says {}x{} but the image decodes as {}x{}", header.0, header.1, decoded.0, decoded.1)]
    SizeChanged {
        /// The file.
        path: PathBuf,
        /// Width and height that libjpeg read from the header.
        header: (u32, u32),
        /// Width and height of the full decode.
        decoded: (u32, u32),
    },
    /// The header or the pixel data is corrupt, truncated, or uses an unsupported feature.
    #[error("{path}: cannot decode ({format}): {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The detected container format.
        format: String,
        /// The decoder's message.
        source: image::ImageError,
    },
}

/// How images are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest width·height accepted; checked from the header before decoding.
    pub max_pixels: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { max_pixels: DEFAULT_MAX_PIXELS }
    }
}

/// Reads and decodes a file (see [`decode`]).
pub fn decode_file(path: &Path, options: &DecodeOptions) -> Result<RgbImage, DecodeError> {
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io { path: path.to_owned(), source })?;
    decode(&bytes, path, options)
}

/// Width and height from the header alone (no pixel is decoded), after the format check.
pub fn dimensions(bytes: &[u8], path: &Path) -> Result<(u32, u32), DecodeError> {
    let reader = reader(bytes, path)?;
    let format = format_name(&reader);
    reader.into_dimensions().map_err(|source| DecodeError::Corrupt { path: path.to_owned(), format, source })
}

/// Width and height from the header, refused when empty or above the pixel limit.
pub fn checked_dimensions(bytes: &[u8], path: &Path, options: &DecodeOptions) -> Result<(u32, u32), DecodeError> {
    let (width, height) = dimensions(bytes, path)?;
    check_size(width, height, path, options)?;
    Ok((width, height))
}

/// Refuses a header size with no pixels or above the pixel limit.
fn check_size(width: u32, height: u32, path: &Path, options: &DecodeOptions) -> Result<(), DecodeError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(DecodeError::NoPixels { path: path.to_owned(), width, height });
    }
    if pixels > options.max_pixels {
        return Err(DecodeError::TooLarge {
            path: path.to_owned(),
            width,
            height,
            pixels,
            max_pixels: options.max_pixels,
        });
    }
    Ok(())
}

/// Decodes `bytes` (the contents of `path`, named in errors) to RGB as PIL's `convert("RGB")`.
pub fn decode(bytes: &[u8], path: &Path, options: &DecodeOptions) -> Result<RgbImage, DecodeError> {
    checked_dimensions(bytes, path, options)?;
    let mut reader = reader(bytes, path)?;
    let format = format_name(&reader);
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_reaches_its_end(bytes) {
        return Err(DecodeError::Truncated { path: path.to_owned() });
    }
    // The decoder's own allocation cap follows our pixel limit (16-bit RGBA = 8 bytes a pixel,
    // plus slack for line buffers), so a lying header cannot make it allocate beyond it either.
    let mut limits = image::Limits::no_limits();
    limits.max_alloc = Some(options.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let decoded = reader.decode().map_err(|source| DecodeError::Corrupt {
        path: path.to_owned(),
        format: format.clone(),
        source,
    })?;
    Ok(convert::to_rgb_like_pil(decoded))
}

/// Reads the header of `bytes` (the contents of `path`) once and checks its size: the size a
/// view's crop is drawn from, then [`Header::decode_region`] decodes what the crop needs. For a
/// JPEG that libjpeg reads, that is libjpeg's header read, which the window decode goes on from.
pub fn read_header<'a>(bytes: &'a [u8], path: &'a Path, options: &DecodeOptions) -> Result<Header<'a>, DecodeError> {
    let jpeg = if bytes.starts_with(&[0xFF, 0xD8]) && jpeg_reaches_its_end(bytes) {
        jpeg_region::JpegHeader::read(bytes)
    } else {
        None
    };
    let (width, height) = match &jpeg {
        Some(jpeg) => {
            let (width, height) = jpeg.size();
            check_size(width, height, path, options)?;
            (width, height)
        }
        None => checked_dimensions(bytes, path, options)?,
    };
    Ok(Header { bytes, path, options: *options, width, height, jpeg })
}

/// An image whose header was read and whose size passed the checks ([`read_header`]).
pub struct Header<'a> {
    bytes: &'a [u8],
    path: &'a Path,
    options: DecodeOptions,
    width: u32,
    height: u32,
    jpeg: Option<jpeg_region::JpegHeader<'a>>,
}

impl Header<'_> {
    /// Width and height from the header.
    pub fn size(&self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    /// The part of the image that `crop` (a box in the full-size image) needs for an
    /// `out_side`² view: for a JPEG the crop's window, DCT-scaled when the crop is at least twice
    /// `out_side` ([`jpeg_region`]); for anything else, or a JPEG that path declines, the full
    /// decode with `crop` unchanged. Errors are [`decode`]'s.
    pub fn decode_region(self, crop: CropBox, out_side: usize) -> Result<Region, DecodeError> {
        if let Some(region) = self.jpeg.and_then(|jpeg| jpeg.decode_window(crop, out_side)) {
            return Ok(region);
        }
        let image = decode(self.bytes, self.path, &self.options)?;
        let decoded = (image.width() as u32, image.height() as u32);
        if decoded != (self.width, self.height) {
            return Err(DecodeError::SizeChanged {
                path: self.path.to_owned(),
                header: (self.width, self.height),
                decoded,
            });
        }
        Ok(Region { image, crop: crop.into(), scale: 1 })
    }
}

fn reader<'a>(bytes: &'a [u8], path: &Path) -> Result<image::ImageReader<Cursor<&'a [u8]>>, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty { path: path.to_owned() });
    }
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| DecodeError::Io { path: path.to_owned(), source })?;
    if reader.format().is_none() {
        return Err(DecodeError::UnknownFormat { path: path.to_owned() });
    }
    Ok(reader)
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan marker (FF DA). Inside
/// entropy-coded data a literal FF is always followed by 00 or a restart marker, so a stream cut
/// short has no FF D9 after its last scan header; bytes after the marker (camera trailers) are fine.
/// Asked as "the last FF D9 has a scan marker before it and none after it", both searches stop
/// near an end of a whole file: walking the entropy-coded data instead cost ~6 % of a training
/// view's CPU time (perf, MoCo-v2 on the host).
fn jpeg_reaches_its_end(bytes: &[u8]) -> bool {
    let is_scan = |w: &[u8]| w == [0xFF, 0xDA];
    let Some(end) = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]) else { return false };
    bytes[..end].windows(2).any(is_scan) && !bytes[end..].windows(2).any(is_scan)
}

fn format_name(reader: &image::ImageReader<Cursor<&[u8]>>) -> String {
    reader.format().map(|f| format!("{f:?}")).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bytes_truncated_and_garbage_are_errors_naming_the_file() {
        let p = Path::new("/data/x.jpg");
        let opts = DecodeOptions::default();
        let e = decode(&[], p, &opts).unwrap_err();
        assert!(matches!(e, DecodeError::Empty { .. }) && e.to_string().contains("/data/x.jpg"));
        let e = decode(b"hello, not an image", p, &opts).unwrap_err();
        assert!(matches!(e, DecodeError::UnknownFormat { .. }), "{e}");
        // A JPEG SOI marker followed by nothing.
        let e = decode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16], p, &opts).unwrap_err();
        assert!(matches!(e, DecodeError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("/data/x.jpg"));
    }

    #[test]
    fn a_truncated_jpeg_is_refused_as_pil_refuses_it() {
        let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&image).unwrap();
        let p = Path::new("cut.jpg");
        assert!(decode(&jpeg, p, &DecodeOptions::default()).is_ok());
        let mut trailer = jpeg.clone();
        trailer.extend_from_slice(b"camera trailer");
        assert!(decode(&trailer, p, &DecodeOptions::default()).is_ok(), "bytes after the end marker are fine");
        let cut = &jpeg[..jpeg.len() * 2 / 3];
        let e = decode(cut, p, &DecodeOptions::default()).unwrap_err();
        assert!(matches!(e, DecodeError::Truncated { .. }) && e.to_string().contains("cut.jpg"), "{e}");
        // The search from the end decides as the forward one after the last scan marker, for
        // every cut (headers, scan, marker) and with a trailer.
        let forward = |b: &[u8]| {
            let last_scan = b.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            last_scan.is_some_and(|start| b[start..].windows(2).any(|w| w == [0xFF, 0xD9]))
        };
        for bytes in [&jpeg, &trailer] {
            for n in 0..=bytes.len() {
                assert_eq!(jpeg_reaches_its_end(&bytes[..n]), forward(&bytes[..n]), "cut at {n}");
            }
        }
    }

    #[test]
    fn bomb_guard_refuses_from_the_header() {
        // A PNG header claiming 100000 x 100000 pixels with no data after it.
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        // The PNG reader wants to reach the first data chunk before it reports the size: give it
        // a short (and, for a real decode, truncated) IDAT.
        let idat = b"IDAT\x78\x9c".to_vec();
        png.extend_from_slice(&2u32.to_be_bytes());
        png.extend_from_slice(&idat);
        png.extend_from_slice(&crc32(&idat).to_be_bytes());
        let e = decode(&png, Path::new("bomb.png"), &DecodeOptions::default()).unwrap_err();
        match e {
            DecodeError::TooLarge { pixels, max_pixels, .. } => {
                assert_eq!(pixels, 10_000_000_000);
                assert_eq!(max_pixels, 178_956_970);
            }
            other => panic!("expected TooLarge, got {other}"),
        }
        let small = DecodeOptions { max_pixels: 10 };
        let e = decode(&png, Path::new("bomb.png"), &small).unwrap_err();
        assert!(e.to_string().contains("bomb.png") && e.to_string().contains("limit of 10"));
    }

    #[test]
    fn one_header_read_gives_the_size_checks_it_and_decodes_the_window() {
        let image = image::RgbImage::from_fn(120, 90, |x, y| image::Rgb([(x * 2) as u8, (y * 2) as u8, 77]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&image).unwrap();
        let p = Path::new("photo.jpg");
        let opts = DecodeOptions::default();
        let header = read_header(&jpeg, p, &opts).unwrap();
        assert!(header.jpeg.is_some(), "libjpeg read the header");
        assert_eq!(header.size(), (120, 90));
        assert_eq!(checked_dimensions(&jpeg, p, &opts).unwrap(), (120, 90));
        let crop = CropBox { top: 10, left: 20, height: 50, width: 60 };
        let region = header.decode_region(crop, 32).unwrap();
        assert_eq!(region, jpeg_region::decode_jpeg_region(&jpeg, crop, 32).unwrap());
        // The pixel limit applies to libjpeg's header as to the full decoder's.
        let e = read_header(&jpeg, p, &DecodeOptions { max_pixels: 10_000 }).err().unwrap();
        assert!(
            matches!(e, DecodeError::TooLarge { pixels: 10_800, .. }) && e.to_string().contains("photo.jpg"),
            "{e}"
        );
        // A frame header claiming 60000 x 60000 pixels is refused before any pixel is decoded.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut bomb = jpeg.clone();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        let e = read_header(&bomb, p, &opts).err().unwrap();
        assert!(matches!(e, DecodeError::TooLarge { width: 60_000, height: 60_000, .. }), "{e}");
        // Not a JPEG: the full decoder's header, and the whole image as the region.
        let mut png = Vec::new();
        image.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let header = read_header(&png, Path::new("photo.png"), &opts).unwrap();
        assert!(header.jpeg.is_none());
        let region = header.decode_region(crop, 32).unwrap();
        assert_eq!((region.image.width(), region.image.height(), region.scale), (120, 90, 1));
        assert_eq!(region.crop, crop.into());
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
