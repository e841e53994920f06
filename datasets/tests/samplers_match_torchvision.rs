//! The samplers against torchvision's: crop boxes (RandomResizedCrop, including images elongated
//! enough to hit the fallback, at every recipe's scale range), ColorJitter factors and orders, the
//! apply probabilities and the blur sigma of every recipe (MoCo v1/v2, SimCLR, SwAV), by two-sample
//! KS tests (p > 0.01) over 20,000 draws each. The Rust draws come from
//! the per-(seed, epoch, index) streams, so this also checks that those streams are unbiased.

mod common;

use std::fmt::Write as _;

use lgd_datasets::augment::resized_crop::sample_crop;
use lgd_datasets::augment::rng::sample_rng;
use lgd_datasets::augment::{AugmentationConfig, Augmenter, Recipe};
use serde_json::Value;

const DRAWS: u64 = 20_000;

#[test]
fn sampled_parameters_match_torchvision_by_ks_test() {
    let dir = common::scratch("samplers");
    // MoCo's 0.2 on every size; SimCLR's 0.08 and SwAV's 0.14 on a photo-like and an elongated one.
    let sizes = [
        (0.2, 500usize, 375usize),
        (0.2, 1000, 260),
        (0.2, 150, 700),
        (0.08, 500, 375),
        (0.08, 1000, 260),
        (0.14, 500, 375),
    ];
    for (scale, w, h) in sizes {
        let mut csv = String::from("top,left,height,width\n");
        let mut full_short_side = 0;
        for i in 0..DRAWS {
            let b = sample_crop(w, h, (scale, 1.0), (3.0 / 4.0, 4.0 / 3.0), &mut sample_rng(42, 0, i));
            writeln!(csv, "{},{},{},{}", b.top, b.left, b.height, b.width).unwrap();
            full_short_side += usize::from(b.height == h.min(w) || b.width == w.min(h));
        }
        // The elongated sizes exercise the centred fallback (whole short side) a good part of the time.
        println!(
            "rrc {w}x{h} scale {scale}: {:.1}% of boxes span the whole short side",
            100.0 * full_short_side as f64 / DRAWS as f64
        );
        std::fs::write(dir.join(format!("rrc_{w}x{h}_{scale}.csv")), csv).unwrap();
    }
    for (name, recipe) in
        [("mocov1", Recipe::Mocov1), ("mocov2", Recipe::Mocov2), ("simclr", Recipe::Simclr), ("swav", Recipe::Swav)]
    {
        let aug = Augmenter::new(AugmentationConfig::for_recipe(recipe)).unwrap();
        std::fs::write(dir.join(format!("view_{name}.csv")), view_draws(&aug)).unwrap();
    }

    let out = common::run_oracle("samplers.py", &[&dir]);
    let result: Value = serde_json::from_str(out.trim()).expect("oracle prints one JSON object");
    println!("apply rates (Rust draws): {}", result["_rates"]);
    let mut failures = Vec::new();
    let mut n = 0;
    for (name, p) in result.as_object().unwrap() {
        if name.starts_with('_') {
            continue;
        }
        let p = p.as_f64().unwrap();
        n += 1;
        println!("KS {name:<28} p = {p:.4}");
        if p <= 0.01 {
            failures.push(format!("{name}: p = {p}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // 6 crop sizes × 4 coordinates + 4 recipes × (4 gates + 5 jitter columns + sigma), less MoCo
    // v1's sigma (it never blurs).
    assert!(n >= 63, "expected at least 63 KS tests, got {n}");
    assert!(failures.is_empty(), "distributions differ from torchvision's:\n{}", failures.join("\n"));
}

/// One line per draw of `aug`'s view parameters (the same columns whatever the recipe).
fn view_draws(aug: &Augmenter) -> String {
    let mut csv = String::from("jitter,order,brightness,contrast,saturation,hue,grayscale,blur,sigma,flip\n");
    for i in 0..DRAWS {
        let p = aug.params_for(7, 3, i, 500, 375);
        let (applied, order, b, c, s, hue) = match &p.jitter {
            Some(j) => {
                let code: u32 = j.order.iter().fold(0, |acc, &op| acc * 4 + op as u32);
                (1, code, j.brightness.unwrap(), j.contrast.unwrap(), j.saturation.unwrap(), j.hue.unwrap())
            }
            None => (0, 0, 0.0, 0.0, 0.0, 0.0),
        };
        writeln!(
            csv,
            "{applied},{order},{b},{c},{s},{hue},{},{},{},{}",
            u8::from(p.grayscale),
            u8::from(p.blur_sigma.is_some()),
            p.blur_sigma.unwrap_or(0.0),
            u8::from(p.flip)
        )
        .unwrap();
    }
    csv
}
