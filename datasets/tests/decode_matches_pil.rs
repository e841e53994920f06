//! Decoding against PIL's `Image.open(f).convert("RGB")` (torchvision's ImageFolder loader) on
//! every layout the oracle writes: ≥ 99 % of values within 2/255 per file. JPEG decoders differ in
//! IDCT and chroma upsampling, so JPEGs are near, not identical; lossless formats must be exact.

mod common;

use std::path::Path;

use lgd_datasets::decode::{decode_file, DecodeOptions};
use serde_json::Value;

#[test]
fn every_layout_decodes_like_pil_convert_rgb() {
    let dir = common::scratch("decode");
    common::run_oracle("decode.py", &[&dir]);
    let files: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join("files.json")).unwrap()).unwrap();
    assert!(files.len() >= 19, "oracle wrote {} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let path = Path::new(f["path"].as_str().unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ours = match decode_file(path, &DecodeOptions::default()) {
            Ok(img) => img,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (w, h) = (f["width"].as_u64().unwrap() as usize, f["height"].as_u64().unwrap() as usize);
        assert_eq!((ours.width(), ours.height()), (w, h), "{name}: size");
        let theirs = std::fs::read(format!("{}.rgb", path.display())).unwrap();
        let (within, exact, max) = common::agreement(ours.as_raw(), &theirs, 2);
        println!("{name:<20} within 2/255: {:>8.4}%  exact: {:>8.4}%  max diff {max}", within * 100.0, exact * 100.0);
        let lossless = !name.ends_with(".jpg");
        if within < 0.99 || (lossless && exact < 1.0) {
            failures.push(format!("{name}: {:.3}% within 2/255, {:.3}% exact", within * 100.0, exact * 100.0));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "decoding differs from PIL:\n{}", failures.join("\n"));
}
