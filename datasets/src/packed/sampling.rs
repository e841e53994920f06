//! A JPEG's chroma layout read from its frame header (SOF marker), without decoding it: how a
//! test (or a user) checks that a re-encoded pack holds the 4:2:0 files it says it does, through
//! a reader that shares no code with the encoder that wrote them.

/// The (horizontal, vertical) sampling factor of every component, in frame-header order, or
/// `None` when `bytes` hold no well-formed frame header before the first scan.
pub fn sampling_factors(bytes: &[u8]) -> Option<Vec<(u8, u8)>> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while *bytes.get(at)? == 0xFF && *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        let (&ff, &marker) = (bytes.get(at)?, bytes.get(at + 1)?);
        if ff != 0xFF {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let segment = bytes.get(at + 4..at + 2 + len)?;
        match marker {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // precision u8, height u16, width u16, components u8, then 3 bytes per component.
                let n = usize::from(*segment.get(5)?);
                let components = segment.get(6..6 + 3 * n)?;
                return Some(components.chunks_exact(3).map(|c| (c[1] >> 4, c[1] & 0x0F)).collect());
            }
            // Start of scan before any frame header: malformed.
            0xDA => return None,
            _ => at += 2 + len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_factors_of_a_known_header_and_refuses_garbage() {
        // SOI, an APP0 segment to skip, then SOF0 for 16x8 with Y 2x2, Cb 1x1, Cr 1x1.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8, 0, 8, 0, 16, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        assert_eq!(sampling_factors(&jpeg), Some(vec![(2, 2), (1, 1), (1, 1)]));
        jpeg[9] = 0xC4; // the same segment as a Huffman table: no frame header before the end
        assert_eq!(sampling_factors(&jpeg), None);
        assert_eq!(sampling_factors(b"not a jpeg"), None);
        assert_eq!(sampling_factors(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00]), None, "a cut header");
    }
}
