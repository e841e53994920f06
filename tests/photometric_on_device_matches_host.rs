//! `photometric = "device"`: the batched tensor-side jitter, grayscale, blur and normalisation
//! give exactly the bytes (and floats) of the host path — which the datasets crate tests against
//! torchvision's PIL path — on scikit-image's photos and on synthetic images, for every recipe,
//! with each view's own parameters drawn from the per-(seed, epoch, sample) streams.

mod support;

use lgd::photometric::DevicePhotometric;
use lgd_actors::batch_pixels::BatchPixels;
use lgd_datasets::augment::pipeline::Workspace;
use lgd_datasets::augment::{AugmentationConfig, Augmenter, Recipe, ViewParams};
use lgd_datasets::decode::{decode_file, DecodeOptions};
use lgd_datasets::RgbImage;
use tch::{Device, Kind, Tensor};

const SIDE: usize = 48;

/// The photos, written into a folder of the calling test's own (tests run in parallel).
fn photos(test: &str) -> Vec<RgbImage> {
    let dir = support::scratch(&format!("photos-{test}"));
    support::run_oracle("skimage_photos.py", &[&dir]);
    let mut images: Vec<RgbImage> = ["astronaut", "coffee", "chelsea", "rocket"]
        .iter()
        .map(|name| decode_file(&dir.join(format!("{name}.png")), &DecodeOptions::default()).unwrap())
        .collect();
    // Synthetic: saturated primaries, greys and ties between channels, where the HSV cases split.
    let synthetic: Vec<u8> =
        (0..97 * 61).flat_map(|i| [(i * 37 % 256) as u8, (i * 11 % 3 * 127) as u8, (i % 256) as u8]).collect();
    images.push(RgbImage::from_raw(97, 61, synthetic).unwrap());
    images
}

/// Many views of the photos with `config`'s recipe: the host's full path against the workers'
/// geometric half plus the device stage (here on the CPU device).
fn compare(config: AugmentationConfig, images: &[RgbImage]) -> (usize, [usize; 4]) {
    let augmenter = Augmenter::new(config.clone()).unwrap();
    let stage = DevicePhotometric::new(&config, Device::Cpu);
    let mut ws = Workspace::default();
    let (mut host_bytes, mut host_floats, mut raw, mut views) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut fired = [0; 4];
    for index in 0..64u64 {
        let image = &images[index as usize % images.len()];
        let p: ViewParams = augmenter.params_for(7, 3, index, image.width(), image.height());
        let mut full = RgbImage::new(0, 0);
        augmenter.apply_into(image, &p, &mut ws, &mut full);
        let mut floats = vec![0.0; 3 * SIDE * SIDE];
        augmenter.normalize_into(&full, &mut floats);
        host_bytes.extend_from_slice(full.as_raw());
        host_floats.extend(floats);
        let mut geometric = RgbImage::new(0, 0);
        augmenter.apply_geometric_box_into(image, p.crop.into(), &p, &mut ws, &mut geometric);
        raw.extend_from_slice(geometric.as_raw());
        fired[0] += usize::from(p.jitter.is_some_and(|j| j.hue.is_some_and(|h| h != 0.0)));
        fired[1] += usize::from(p.grayscale);
        fired[2] += usize::from(p.blur_sigma.is_some());
        fired[3] += usize::from(p.flip);
        views.push(p);
    }
    let side = SIDE as i64;
    let bytes = Tensor::from_slice(&raw).reshape([-1, side, side, 3]);
    let ours = stage.apply_u8(&bytes, &views).permute([0, 2, 3, 1]).to_kind(Kind::Uint8).contiguous();
    let ours: Vec<u8> = Vec::try_from(ours.flatten(0, -1)).unwrap();
    let differing = ours.iter().zip(&host_bytes).filter(|(a, b)| a != b).count();
    let normalised = stage.batch(&BatchPixels::raw_from(&raw, views), side);
    let normalised: Vec<f32> = Vec::try_from(normalised.contiguous().flatten(0, -1)).unwrap();
    assert_eq!(normalised.len(), host_floats.len());
    let float_differing = normalised.iter().zip(&host_floats).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(float_differing, 0, "{:?}: normalised floats differ from the host's", config.recipe);
    (differing, fired)
}

#[test]
fn every_recipe_gives_the_host_bytes() {
    let images = photos("recipes");
    for recipe in [Recipe::Mocov1, Recipe::Mocov2, Recipe::Simclr, Recipe::Swav] {
        let config = AugmentationConfig { output_size: SIDE, ..AugmentationConfig::for_recipe(recipe) };
        let blurs = config.blur_p > 0.0;
        let (differing, fired) = compare(config, &images);
        println!(
            "{recipe:?}: {differing} of {} bytes differ; hue/grey/blur/flip fired {fired:?} of 64",
            64 * SIDE * SIDE * 3
        );
        assert_eq!(differing, 0, "{recipe:?}");
        assert!(
            fired[0] > 0 && fired[1] > 0 && fired[3] > 0,
            "{recipe:?}: every operation ran on some view: {fired:?}"
        );
        assert_eq!(fired[2] > 0, blurs, "{recipe:?}: views were blurred exactly when the recipe blurs");
    }
}

#[test]
fn strong_and_disabled_settings_too() {
    let images = photos("settings");
    // Extreme factors (clamping at 0 and 255), hue at its limit, wide blurs of different radii
    // in one batch; then everything off (the identity, up to normalisation).
    let strong = AugmentationConfig {
        output_size: SIDE,
        jitter_p: 1.0,
        brightness: 0.9,
        contrast: 0.9,
        saturation: 3.0,
        hue: 0.5,
        blur_p: 1.0,
        blur_sigma: [0.1, 6.0],
        ..AugmentationConfig::for_recipe(Recipe::Mocov2)
    };
    assert_eq!(compare(strong, &images).0, 0);
    let off =
        AugmentationConfig { output_size: SIDE, jitter_p: 0.0, grayscale_p: 0.0, blur_p: 0.0, ..Default::default() };
    assert_eq!(compare(off, &images).0, 0);
}

/// `lgd train` with the photometric stage on the (CPU) device logs exactly the losses of the
/// same run with it on the decode workers: the move changes where the work runs, nothing else.
/// `auto` on the CPU device says it runs on the decode workers.
#[test]
fn training_is_identical_with_the_stage_on_either_side() {
    let losses = |place: &str| {
        let dir = support::scratch(&format!("train-photometric-{place}"));
        support::write_image_folder(&dir.join("data"), &["a", "b", "c"], 4);
        let config = support::daemon::cpu_config(&dir, 2, "")
            .replace("output_size = 32", &format!("output_size = 32\nphotometric = \"{place}\"\nblur_p = 1.0"));
        std::fs::write(dir.join("run.toml"), config).unwrap();
        let trained = support::daemon::train_to_end(&dir);
        assert!(trained.status.success(), "{place}: {}", String::from_utf8_lossy(&trained.stderr));
        let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
        let losses: Vec<f64> = metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64())
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        (losses, String::from_utf8_lossy(&trained.stderr).into_owned())
    };
    let (host, _) = losses("host");
    assert_eq!(host.len(), 6, "2 epochs of 3 steps, each logged");
    assert_eq!(losses("device").0, host);
    let (auto, log) = losses("auto");
    assert_eq!(auto, host);
    assert!(log.contains("run on the decode workers") && log.contains("resolved=\"host\""), "{log}");
}
