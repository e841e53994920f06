//! Validation during training (DESIGN §1): on the val split with the evaluation transform, how
//! often the student's nearest bank class equals the teacher's (teacher agreement), and — when the
//! bank's classes are the dataset's classes — the zero-shot top-1 of student (100·s·T) and teacher.

use std::path::Path;

use lgd_datasets::augment::eval::eval_transform;
use lgd_datasets::augment::normalize::to_tensor_normalized_into;
use lgd_actors::source::open_source;
use lgd_datasets::decode::{decode, DecodeOptions};
use tch::{Device, Kind, Tensor};

use crate::models::student::Student;
use crate::models::teacher::Teacher;
use crate::objective::normalize_rows;

/// Images per forward pass: small enough that a stop request is seen within a second or two on
/// a CPU, large enough to keep a GPU busy.
const CHUNK: i64 = 32;

/// The evaluation images, decoded once, normalised, in `[N, 3, S, S]` chunks.
pub struct ValidationSet {
    batches: Vec<(Tensor, Tensor)>,
    skipped: Vec<String>,
    images: usize,
    classes: usize,
}

/// Validation figures.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Validation {
    /// Fraction of images where argmax over the bank agrees between student and teacher.
    pub agreement: f64,
    /// Student zero-shot top-1, when the bank's classes are the dataset's.
    pub student_top1: Option<f64>,
    /// Teacher zero-shot top-1, likewise.
    pub teacher_top1: Option<f64>,
    /// Images evaluated.
    pub images: usize,
}

impl ValidationSet {
    /// Decodes up to `max_images` (0 = all; otherwise evenly spaced over the dataset order, so
    /// every class is represented) of `root` — an image folder or a packed dataset — with
    /// Resize(`resize`) + CenterCrop(`crop`).
    pub fn load(root: &Path, resize: usize, crop: usize, mean: [f32; 3], std: [f32; 3], max_images: usize) -> Result<Self, String> {
        let source = open_source(root).map_err(|e| format!("data.val: {e}"))?;
        let all = source.len();
        let take = if max_images == 0 { all } else { max_images.min(all) };
        let (mut pixels, mut labels, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for index in (0..take).map(|i| i * all / take) {
            let path = source.describe(index);
            let decoded = source
                .read(index)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|(bytes, label)| decode(&bytes, &path, &DecodeOptions::default()).map(|image| (image, label)).map_err(|e| e.to_string()));
            match decoded {
                Ok((image, label)) => {
                    let view = eval_transform(&image, resize, crop);
                    let start = pixels.len();
                    pixels.resize(start + 3 * crop * crop, 0.0);
                    to_tensor_normalized_into(&view, mean, std, &mut pixels[start..]);
                    labels.push(label as i64);
                }
                Err(error) => skipped.push(error),
            }
        }
        let classes = source.classes().len();
        let images = labels.len();
        if images == 0 {
            return Err(format!("data.val: no decodable image in {}", root.display()));
        }
        let all = Tensor::from_slice(&pixels).reshape([images as i64, 3, crop as i64, crop as i64]);
        let labels = Tensor::from_slice(&labels);
        let batches = (0..images as i64)
            .step_by(CHUNK as usize)
            .map(|start| {
                let length = CHUNK.min(images as i64 - start);
                (all.narrow(0, start, length), labels.narrow(0, start, length))
            })
            .collect();
        Ok(Self { batches, skipped, images, classes })
    }

    /// A set from tensors already prepared: images `[N, 3, S, S]`, labels `[N]`.
    pub fn from_tensors(images: &Tensor, labels: &Tensor) -> Self {
        let images_count = images.size()[0];
        let batches = (0..images_count)
            .step_by(CHUNK as usize)
            .map(|start| {
                let length = CHUNK.min(images_count - start);
                (images.narrow(0, start, length), labels.narrow(0, start, length))
            })
            .collect();
        let classes = if images_count == 0 { 0 } else { labels.max().int64_value(&[]) as usize + 1 };
        Self { batches, skipped: Vec::new(), images: images_count as usize, classes }
    }

    /// Number of classes of the split (for prepared tensors: the largest label + 1).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The images and labels in chunks: `([n, 3, S, S], [n])`.
    pub fn batches(&self) -> &[(Tensor, Tensor)] {
        &self.batches
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images
    }

    /// Whether no image was loaded (never true: loading refuses an empty set).
    pub fn is_empty(&self) -> bool {
        self.images == 0
    }

    /// Files that could not be decoded (reported, not evaluated).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Evaluates the student (in eval mode) against the teacher.
    pub fn evaluate(&self, student: &Student, teacher: &dyn Teacher, classes_match_bank: bool, device: Device) -> Validation {
        self.evaluate_until(student, teacher, classes_match_bank, device, &|| false).expect("never interrupted")
    }

    /// [`evaluate`](Self::evaluate), abandoned (`None`) as soon as `interrupted` says so between
    /// batches: a stop request during a long validation must not wait for its end.
    pub fn evaluate_until(
        &self,
        student: &Student,
        teacher: &dyn Teacher,
        classes_match_bank: bool,
        device: Device,
        interrupted: &dyn Fn() -> bool,
    ) -> Option<Validation> {
        let bank = teacher.bank().tensor();
        let (mut agree, mut student_correct, mut teacher_correct) = (0i64, 0i64, 0i64);
        let finished = tch::no_grad(|| {
            for (images, labels) in &self.batches {
                if interrupted() {
                    return false;
                }
                let images = images.to_device(device);
                let labels = labels.to_device(device);
                let s = normalize_rows(&student.forward_t(&images, false).to_kind(Kind::Float));
                let t = teacher.embed(&images).to_kind(Kind::Float);
                let s_class = (s.matmul(bank) * 100.0).argmax(1, false);
                let t_class = (t.matmul(bank) * 100.0).argmax(1, false);
                agree += s_class.eq_tensor(&t_class).sum(Kind::Int64).int64_value(&[]);
                student_correct += s_class.eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
                teacher_correct += t_class.eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
            }
            true
        });
        let n = self.images as f64;
        finished.then(|| Validation {
            agreement: agree as f64 / n,
            student_top1: classes_match_bank.then(|| student_correct as f64 / n),
            teacher_top1: classes_match_bank.then(|| teacher_correct as f64 / n),
            images: self.images,
        })
    }
}
