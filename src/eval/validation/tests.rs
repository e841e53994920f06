//! A pass against one-by-one decoding; evaluation with the teacher's classes kept.

use super::*;

const MEAN: [f32; 3] = [0.5, 0.4, 0.3];
const STD: [f32; 3] = [0.2, 0.25, 0.3];

/// `root/{a,b}/*.ppm`, `per_class` each, and one file in `b` that does not decode.
fn folder(root: &Path, per_class: usize) {
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..per_class {
            let (w, h) = (20 + i % 7, 16 + c);
            let mut bytes = format!("P6\n{w} {h}\n255\n").into_bytes();
            bytes.extend((0..w * h * 3).map(|p| (p * 7 + i * 13 + c * 90) as u8));
            std::fs::write(root.join(class).join(format!("{i:03}.ppm")), bytes).unwrap();
        }
    }
    std::fs::write(root.join("b/zz-broken.ppm"), b"P6\n20 16\n255\nshort").unwrap();
}

/// Every chunk of a pass, concatenated, and what the pass reported.
fn collect(set: &ValidationSet) -> (Tensor, Tensor, Pass) {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let pass = set.pass(|x, y| {
        assert!(y.size()[0] <= CHUNK, "chunks of at most {CHUNK}");
        images.push(x.copy());
        labels.push(y.copy());
        true
    });
    (Tensor::cat(&images, 0), Tensor::cat(&labels, 0), pass)
}

#[test]
fn a_pass_decodes_every_block_in_order_as_one_image_at_a_time_would() {
    let root = std::env::temp_dir().join(format!("lgd-validation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    folder(&root, 150); // 301 files: two blocks
    let set = ValidationSet::load(&root, 18, 16, MEAN, STD, 0).unwrap();
    assert_eq!((set.len(), set.classes()), (301, 2));
    let (images, labels, pass) = collect(&set);
    assert!(pass.finished && pass.images == 300, "{pass:?}");
    assert!(pass.skipped.len() == 1 && pass.skipped[0].contains("zz-broken.ppm"), "{pass:?}");

    // The reference: each file on its own, in the source's order.
    let source = open_source(&root).unwrap();
    let (mut pixels, mut expected_labels) = (Vec::new(), Vec::new());
    for index in 0..source.len() {
        let (bytes, label) = source.read(index).unwrap();
        let Ok(image) = decode(&bytes, &source.describe(index), &DecodeOptions::default()) else { continue };
        let start = pixels.len();
        pixels.resize(start + 3 * 16 * 16, 0.0);
        to_tensor_normalized_into(&eval_transform(&image, 18, 16), MEAN, STD, &mut pixels[start..]);
        expected_labels.push(label as i64);
    }
    assert!(images.equal(&Tensor::from_slice(&pixels).reshape([300, 3, 16, 16])));
    assert!(labels.equal(&Tensor::from_slice(&expected_labels)));

    let (again, _, _) = collect(&set);
    assert!(again.equal(&images), "every pass gives the same images");
    let mut handed = 0;
    let stopped = set.pass(|_, _| {
        handed += 1;
        handed <= 3
    });
    assert!(!stopped.finished && stopped.images == 3 * CHUNK as usize, "{stopped:?}");
    let some = ValidationSet::load(&root, 18, 16, MEAN, STD, 10).unwrap();
    let (_, labels, _) = collect(&some);
    assert_eq!(
        Vec::<i64>::try_from(&labels).unwrap(),
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
        "evenly spaced over both classes"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A teacher that counts its forward passes: the embedding of an image is a fixed projection of
/// its mean colour.
struct CountingTeacher {
    bank: crate::objective::TextBank,
    projection: Tensor,
    calls: std::cell::Cell<usize>,
}

impl Teacher for CountingTeacher {
    fn embed(&self, images: &Tensor) -> Tensor {
        self.calls.set(self.calls.get() + 1);
        normalize_rows(&images.mean_dim([2, 3].as_slice(), false, Kind::Float).matmul(&self.projection))
    }
    fn bank(&self) -> &crate::objective::TextBank {
        &self.bank
    }
    fn normalisation(&self) -> ([f64; 3], [f64; 3]) {
        ([0.5; 3], [0.25; 3])
    }
}

#[test]
fn a_second_validation_runs_no_teacher_and_gives_the_same_figures() {
    use crate::models::student::{StudentArch, StudentOptions};
    let root = std::env::temp_dir().join(format!("lgd-validation-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    folder(&root, 40); // 81 files: three chunks of the one block, one file broken
    let mut set = ValidationSet::load(&root, 18, 16, MEAN, STD, 0).unwrap();
    let vars = tch::nn::VarStore::new(Device::Cpu);
    let student = Student::new(&vars.root(), StudentArch::Resnet18, 8, StudentOptions::default());
    let teacher = CountingTeacher {
        bank: crate::objective::TextBank::random(8, 2, Device::Cpu),
        projection: Tensor::randn([3, 8], (Kind::Float, Device::Cpu)),
        calls: Default::default(),
    };
    let seen = std::cell::RefCell::new(Vec::new());
    let evaluate = |set: &mut ValidationSet, stop_after: usize| {
        seen.borrow_mut().clear();
        let mut go_on = |evaluated: usize| {
            seen.borrow_mut().push(evaluated);
            seen.borrow().len() <= stop_after
        };
        set.evaluate_while(&student, &teacher, true, Device::Cpu, &mut go_on).unwrap()
    };
    let first = evaluate(&mut set, usize::MAX).unwrap();
    assert_eq!((first.images, teacher.calls.get()), (80, 3));
    assert_eq!(*seen.borrow(), [0, 32, 64], "asked before each chunk with the images evaluated so far");
    assert!(first.teacher_top1.is_some(), "{first:?}");

    // A validation interrupted after one chunk keeps what the complete one computed.
    assert!(evaluate(&mut set, 1).is_none());
    let second = evaluate(&mut set, usize::MAX).unwrap();
    assert_eq!(teacher.calls.get(), 3, "the teacher ran for no chunk again");
    assert_eq!(format!("{first:?}"), format!("{second:?}"));

    // A fresh set (nothing kept) agrees with the kept classes.
    let mut fresh = ValidationSet::load(&root, 18, 16, MEAN, STD, 0).unwrap();
    assert_eq!(format!("{:?}", evaluate(&mut fresh, usize::MAX).unwrap()), format!("{first:?}"));
    assert_eq!(teacher.calls.get(), 6);
    std::fs::remove_dir_all(&root).unwrap();
}
