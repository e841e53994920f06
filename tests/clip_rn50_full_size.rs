//! A full-size CLIP RN50 archive in OpenAI's layout (random weights, made at test time) loads
//! unchanged — architecture inferred from shapes, float16 weights converted — and, as the CLIP
//! teacher, embeds images to (B, 1024) unit vectors matching open_clip's.

mod support;

use lgd::models::clip::{Clip, LoadOptions, VisionConfig};
use lgd::models::teacher::{ClipTeacher, Teacher};
use lgd::objective::{normalize_rows, TextBank};
use lgd::tensor_io::read_safetensors;
use lgd::torch_ext::{to_channels_last, AutocastGuard};
use tch::{Device, Kind, Tensor};

#[test]
fn rn50_archive_loads_and_embeds_to_1024() {
    let dir = support::scratch("clip-rn50");
    support::run_oracle("clip_rn50_oracle.py", &[&dir]);
    let clip = Clip::load(&dir.join("RN50.pt"), LoadOptions::default()).unwrap();
    assert_eq!(clip.config().embed_dim, 1024);
    assert!(matches!(clip.config().vision, VisionConfig::ResNet { layers: [3, 4, 6, 3], width: 64, image_size: 224 }));

    let expected = read_safetensors(&dir.join("rn50.expected.safetensors")).unwrap().tensors;
    let bank = TextBank::new(normalize_rows(&Tensor::randn([10, 1024], (Kind::Float, Device::Cpu))).tr()).unwrap();
    let teacher = ClipTeacher::new(clip, bank).unwrap();
    let t = teacher.embed(&expected["images"]);
    assert_eq!(t.size(), vec![2, 1024]);
    let reference = normalize_rows(&expected["image_embeddings"]);
    let diff = (&t - &reference).abs().max().double_value(&[]);
    println!("RN50 archive: embeddings (2, 1024), max |lgd - open_clip| after normalisation {diff:.1e}");
    assert!(diff < 1e-4, "RN50 embeddings differ by {diff}");

    // Under the training settings: bf16 autocast, channels_last input.
    let autocast = {
        let _guard = AutocastGuard::new(Device::Cpu, Kind::BFloat16).unwrap();
        teacher.embed(&expected["images"])
    };
    let cosine = (autocast.to_kind(Kind::Float) * &t).sum_dim_intlist(1, false, None::<Kind>).min().double_value(&[]);
    let layout = teacher.embed(&to_channels_last(&expected["images"]).unwrap());
    let layout_diff = (&layout - &t).abs().max().double_value(&[]);
    println!(
        "RN50 teacher: bf16 autocast cosine to fp32 >= {cosine:.4}; channels_last input max diff {layout_diff:.1e}"
    );
    assert!(cosine > 0.99 && layout_diff < 1e-4);

    let narrow = TextBank::new(normalize_rows(&Tensor::randn([3, 512], (Kind::Float, Device::Cpu))).tr()).unwrap();
    let clip = Clip::load(&dir.join("RN50.pt"), LoadOptions::default()).unwrap();
    let err = ClipTeacher::new(clip, narrow).unwrap_err().to_string();
    assert!(err.contains("[1024, classes]"), "a bank of the wrong width is refused: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
