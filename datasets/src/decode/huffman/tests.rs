//! Tests of `huffman.rs`: windows decoded by it and by libjpeg-turbo's own decoder, compared.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::augment::CropBox;
use crate::decode::jpeg_region::{installs_on_this_thread, Entropy, JpegHeader, Region};

/// A `w`×`h` picture with flat areas, gradients, edges and noise (`noise` 0..=255).
fn picture(w: usize, h: usize, noise: u8, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut px = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let base = if (x / 37 + y / 23) % 3 == 0 { 40 * c + 30 } else { (x * (c + 1) + y * 2) % 256 };
                let n = if noise == 0 { 0 } else { rng.gen_range(0..=noise as usize) };
                px.push(((base + n) % 256) as u8);
            }
        }
    }
    px
}

/// JPEGs of every kind this decoder takes or declines: 4:2:0, 4:2:2, 4:4:4, 4:1:1, grey;
/// standard and optimised tables (long codes); qualities 10 to 100; restart markers,
/// progressive files and non-interleaved scans (libjpeg's decoder); sizes that end mid-MCU.
fn jpegs() -> Vec<(String, Vec<u8>)> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    use crate::packed::format::Chroma;
    use crate::packed::jpeg::encode_jpeg_with;
    use crate::rgb::RgbImage;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    let kinds = [
        ("420", SamplingFactor::R_4_2_0),
        ("422", SamplingFactor::R_4_2_2),
        ("444", SamplingFactor::R_4_4_4),
        ("411", SamplingFactor::R_4_1_1),
    ];
    for (i, quality) in [10u8, 50, 75, 90, 97, 100].into_iter().enumerate() {
        let (w, h) = (rng.gen_range(90..260usize), rng.gen_range(70..200usize));
        let noise = [0u8, 8, 40, 255][i % 4];
        let px = picture(w, h, noise, &mut rng);
        for (name, sampling) in kinds {
            for (optimised, restart, progressive) in
                [(false, 0, false), (true, 0, false), (false, 3, false), (false, 0, true)]
            {
                let mut jpeg = Vec::new();
                let mut e = Encoder::new(&mut jpeg, quality);
                e.set_sampling_factor(sampling);
                e.set_optimized_huffman_tables(optimised);
                e.set_progressive(progressive);
                if restart > 0 {
                    e.set_restart_interval(restart);
                }
                e.encode(&px, w as u16, h as u16, ColorType::Rgb).unwrap();
                let label = format!("q{quality} {name} {w}x{h} opt={optimised} rst={restart} prog={progressive}");
                out.push((label, jpeg));
            }
        }
        // libjpeg-turbo's encoder with tables made for the image, in one interleaved scan.
        let image = RgbImage::from_raw(w, h, px.clone()).unwrap();
        for (name, chroma) in [("420", Chroma::Yuv420), ("444", Chroma::Yuv444)] {
            let jpeg = encode_jpeg_with(&image, quality, chroma, true).unwrap();
            out.push((format!("q{quality} {name} {w}x{h} libjpeg opt=true"), jpeg));
        }
        let grey: Vec<u8> = px.chunks(3).map(|p| p[0]).collect();
        let mut jpeg = Vec::new();
        Encoder::new(&mut jpeg, quality).encode(&grey, w as u16, h as u16, ColorType::Luma).unwrap();
        out.push((format!("q{quality} grey {w}x{h}"), jpeg));
    }
    out
}

/// Whether the file has one scan (SOS), not progressive (SOF2), without a restart interval
/// (DRI): the files this decoder takes. jpeg-encoder writes a scan per component when it
/// optimises its tables or for 4:1:1. (0xFF in entropy-coded data is followed by 0x00.)
fn one_sequential_scan(jpeg: &[u8]) -> bool {
    let count = |marker: u8| jpeg.windows(2).filter(|w| w == &[0xFF, marker]).count();
    count(0xDA) == 1 && count(0xC2) == 0 && count(0xDD) == 0
}

fn window(jpeg: &[u8], crop: CropBox, side: usize, entropy: Entropy) -> Option<Region> {
    JpegHeader::read(jpeg)?.decode_window_with(crop, side, entropy)
}

/// Crops of every kind: whole image, corners, middles, thin strips; output sides that give
/// DCT scales 1 to 8 (at 1/8 only DC coefficients are used).
fn crops(w: usize, h: usize, rng: &mut ChaCha8Rng) -> Vec<(CropBox, usize)> {
    let mut v = vec![(CropBox { top: 0, left: 0, height: h, width: w }, 224)];
    for _ in 0..12 {
        let (cw, ch) = (rng.gen_range(1..=w), rng.gen_range(1..=h));
        let crop = CropBox { top: rng.gen_range(0..=h - ch), left: rng.gen_range(0..=w - cw), height: ch, width: cw };
        v.push((crop, [224, 40, 16, 5][rng.gen_range(0..4)]));
    }
    v
}

#[test]
fn every_window_has_libjpegs_pixels() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut ours, mut theirs) = (0, 0);
    for (label, jpeg) in jpegs() {
        let (w, h) = JpegHeader::read(&jpeg).unwrap().size();
        for (crop, side) in crops(w as usize, h as usize, &mut rng) {
            let before = installs_on_this_thread();
            let a = window(&jpeg, crop, side, Entropy::Ours).unwrap_or_else(|| panic!("{label} {crop:?}"));
            let installed = installs_on_this_thread() > before;
            let b = window(&jpeg, crop, side, Entropy::Libjpeg).unwrap();
            assert_eq!(a, b, "{label}, crop {crop:?} for {side}²");
            let expected = one_sequential_scan(&jpeg);
            assert_eq!(installed, expected, "{label}: this decoder takes baseline files without restarts");
            if installed {
                ours += 1;
            } else {
                theirs += 1;
            }
        }
    }
    assert!(ours > 400 && theirs > 400, "{ours} windows decoded here, {theirs} by libjpeg");
}

#[test]
fn corrupt_data_gives_libjpegs_pixels_or_goes_the_full_way() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut same, mut stricter) = (0, 0);
    let files: Vec<_> = jpegs().into_iter().filter(|(l, _)| l.contains("opt=false rst=0 prog=false")).collect();
    for (label, jpeg) in files {
        let (w, h) = JpegHeader::read(&jpeg).unwrap().size();
        let whole = CropBox { top: 0, left: 0, height: h as usize, width: w as usize };
        // The entropy-coded data starts after the last header segment; corrupt the second half.
        for trial in 0..40 {
            let mut bad = jpeg.clone();
            let len = bad.len();
            if trial % 4 == 3 {
                bad.truncate(rng.gen_range(len / 2..len));
            } else {
                for _ in 0..rng.gen_range(1..4) {
                    let at = rng.gen_range(len / 2..len - 2);
                    bad[at] ^= 1 << rng.gen_range(0..8);
                }
            }
            let a = window(&bad, whole, 224, Entropy::Ours);
            let b = window(&bad, whole, 224, Entropy::Libjpeg);
            match (&a, &b) {
                (Some(a), Some(b)) => assert_eq!(a, b, "{label}, trial {trial}"),
                (None, None) => {}
                (None, Some(_)) => stricter += 1,
                (Some(_), None) => panic!("{label}, trial {trial}: decoded what libjpeg warns about"),
            }
            same += usize::from(a.is_some() == b.is_some());
        }
    }
    // libjpeg decodes an invalid code as 0 without a warning where it has 16 bytes of data
    // ahead; this decoder sends such a file the full way.
    eprintln!("corrupt files: {same} as libjpeg, {stricter} refused here only");
    assert!(stricter * 10 < same, "{stricter} files refused here that libjpeg decoded, {same} the same");
}
