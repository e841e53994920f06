//! One-core throughput of the CPU data path: decode + MoCo-v2 view + normalise, per image.
//!
//! Usage: cargo run -p lgd-datasets --release --example augment_throughput -- FILE [N]
//! (a quick figure for development; the product benchmark is `lgd bench data`).

use std::path::Path;
use std::time::Instant;

use lgd_datasets::augment::{AugmentationConfig, Augmenter};
use lgd_datasets::decode::{decode, DecodeOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: augment_throughput FILE [N]");
        std::process::exit(2);
    };
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
    let bytes = std::fs::read(file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(1);
    });
    let aug = Augmenter::new(AugmentationConfig::default()).expect("default config is valid");
    let mut out = vec![0f32; 3 * 224 * 224];
    let (mut t_dec, mut t_aug) = (0.0, 0.0);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let img = decode(&bytes, Path::new(file), &DecodeOptions::default()).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1);
        });
        t_dec += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let view = aug.view(&img, 0, 0, i);
        aug.normalize_into(&view, &mut out);
        t_aug += t.elapsed().as_secs_f64();
    }
    let total = start.elapsed().as_secs_f64();
    println!(
        "{n} images: {:.0} img/s on one core (decode {:.2} ms, view+normalise {:.2} ms per image)",
        n as f64 / total,
        1e3 * t_dec / n as f64,
        1e3 * t_aug / n as f64
    );
}
