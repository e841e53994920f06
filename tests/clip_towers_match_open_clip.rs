//! `lgd`'s CLIP towers, loaded from a safetensors state dict and from a TorchScript archive in
//! OpenAI's layout (float16 weights), embed images and prompts as open_clip does: tiny random
//! configurations of the modified ResNet and the ViT, with a 2-layer text transformer over the real
//! 49,408-token vocabulary, agree within 1e-4 relative in float32.

mod support;

use std::path::Path;

use lgd::models::clip::{Clip, ClipLoadError, LoadOptions, VisionConfig};
use lgd::tensor_io::read_safetensors;
use tch::{Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

/// max |got − expected| / max |expected|.
fn relative_error(got: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(got.size(), expected.size(), "shapes differ");
    let diff = (got.to_kind(Kind::Double) - expected.to_kind(Kind::Double)).abs().max().double_value(&[]);
    diff / expected.to_kind(Kind::Double).abs().max().double_value(&[])
}

fn check(dir: &Path, name: &str, file: &str) -> (f64, f64) {
    let expected = read_safetensors(&dir.join(format!("{name}.expected.safetensors"))).unwrap().tensors;
    let clip = Clip::load(&dir.join(file), LoadOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
    match (name, &clip.config().vision) {
        ("rn", VisionConfig::ResNet { layers, width, image_size }) => {
            assert_eq!((*layers, *width, *image_size), ([1, 1, 1, 1], 16, 64))
        }
        ("vit", VisionConfig::Vit { width, layers, patch_size, image_size }) => {
            assert_eq!((*width, *layers, *patch_size, *image_size), (128, 2, 16, 64))
        }
        (_, other) => panic!("{file}: inferred {other:?}"),
    }
    assert_eq!((clip.config().text.layers, clip.config().text.heads, clip.config().text.vocab_size), (2, 2, 49_408));
    let image = relative_error(&clip.encode_image(&expected["images"]), &expected["image_embeddings"]);
    let text = relative_error(&clip.encode_text(&expected["tokens"]), &expected["text_embeddings"]);
    assert!(image <= TOLERANCE && text <= TOLERANCE, "{file}: relative error image {image:e}, text {text:e}");
    (image, text)
}

#[test]
fn towers_from_state_dicts_and_openai_archives_match_open_clip() {
    let dir = support::scratch("clip-towers");
    support::run_oracle("clip_towers_oracle.py", &[&dir]);
    for name in ["rn", "vit"] {
        for file in [format!("{name}.safetensors"), format!("{name}.openclip.pt"), format!("{name}.pt")] {
            let (image, text) = check(&dir, name, &file);
            println!("{file}: max relative error vs open_clip: image {image:.1e}, text {text:.1e}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mismatched_tensors_are_listed() {
    let dir = support::scratch("clip-towers-bad");
    support::run_oracle("clip_towers_oracle.py", &[&dir]);
    let mut file = read_safetensors(&dir.join("rn.safetensors")).unwrap();
    file.tensors.remove("visual.layer2.0.bn1.running_var");
    file.tensors.insert("visual.attnpool.c_proj.bias".into(), Tensor::zeros([7], (Kind::Float, tch::Device::Cpu)));
    file.tensors.insert("visual.surplus".into(), Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)));
    let named: Vec<(&str, &Tensor)> = file.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let broken = dir.join("broken.safetensors");
    lgd::tensor_io::write_safetensors(&broken, &named, &Default::default()).unwrap();
    let err = Clip::load(&broken, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, ClipLoadError::Tensors { .. }));
    let message = err.to_string();
    for part in [
        "1 missing (visual.layer2.0.bn1.running_var)",
        "1 mis-shaped (visual.attnpool.c_proj.bias: expected [32], found [7])",
        "1 unexpected (visual.surplus)",
    ] {
        assert!(message.contains(part), "{message}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
