//! The one image type of the data path: 8-bit RGB, row-major, interleaved (H×W×3).
//!
//! Everything between the decoder and the tensor conversion works on this buffer, the same
//! representation PIL uses for an `"RGB"` image, so each operation can be compared byte for byte
//! with torchvision's PIL path.

/// An 8-bit RGB image, rows top to bottom, pixels left to right, channels R, G, B.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

/// A buffer whose length does not match the stated size.
#[derive(Debug, thiserror::Error)]
#[error("an RGB buffer of {width}x{height} needs {expected} bytes, got {got}")]
pub struct SizeMismatch {
    /// Stated width.
    pub width: usize,
    /// Stated height.
    pub height: usize,
    /// width * height * 3.
    pub expected: usize,
    /// The buffer's length.
    pub got: usize,
}

impl RgbImage {
    /// Wraps an interleaved RGB buffer; its length must be `width * height * 3`.
    pub fn from_raw(width: usize, height: usize, data: Vec<u8>) -> Result<Self, SizeMismatch> {
        let expected = width * height * 3;
        if data.len() != expected {
            return Err(SizeMismatch { width, height, expected, got: data.len() });
        }
        Ok(Self { width, height, data })
    }

    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        Self { width, height, data: vec![0; width * height * 3] }
    }

    /// Changes the size in place, keeping the allocation: a worker's output buffer is reshaped for
    /// each image instead of reallocated. Pixel values are unspecified afterwards (callers that
    /// reshape overwrite every pixel).
    pub fn reshape(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.resize(width * height * 3, 0);
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The interleaved bytes (H×W×3).
    pub fn as_raw(&self) -> &[u8] {
        &self.data
    }

    /// The interleaved bytes, mutable.
    pub fn as_raw_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Gives the buffer back.
    pub fn into_raw(self) -> Vec<u8> {
        self.data
    }

    /// One row (W×3 bytes).
    pub fn row(&self, y: usize) -> &[u8] {
        let stride = self.width * 3;
        &self.data[y * stride..(y + 1) * stride]
    }

    /// One pixel.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}
