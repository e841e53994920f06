//! Validation during training (DESIGN §1): on the val split with the evaluation transform, how
//! often the student's nearest bank class equals the teacher's (teacher agreement), and — when the
//! bank's classes are the dataset's classes — the zero-shot top-1 of student (100·s·T) and teacher.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lgd_actors::source::{open_source, SampleSource};
use lgd_datasets::augment::eval::eval_transform;
use lgd_datasets::augment::normalize::to_tensor_normalized_into;
use lgd_datasets::decode::{decode, DecodeOptions};
use tch::{Device, Kind, Tensor};

use super::EvalError;
use crate::models::student::Student;
use crate::models::teacher::Teacher;
use crate::objective::normalize_rows;

mod teacher_classes;
use teacher_classes::TeacherClasses;

/// Images per forward pass: small enough that a stop request is seen within a second or two on
/// a CPU, large enough to keep a GPU busy.
const CHUNK: i64 = 32;

/// Images decoded together, in parallel, while the block before them is evaluated: two blocks are
/// in memory at once (2 × 256 × 0.6 MB at 224 pixels), whatever the size of the split.
const BLOCK: usize = 256;

/// The evaluation images: files decoded block by block at each pass (an ImageNet val split held
/// decoded would be 30 GB of floats), or tensors given ready.
pub struct ValidationSet {
    images: Images,
    classes: usize,
    /// Undecodable files are logged on the first pass that finishes, not at every pass.
    skips_reported: AtomicBool,
    teacher_classes: TeacherClasses,
}

enum Images {
    Files(Files),
    /// `[n, 3, S, S]` images and `[n]` labels, in chunks.
    Prepared(Vec<Chunk>),
}

/// Images `[n, 3, S, S]`, their labels `[n]` and which samples of the split they are.
struct Chunk {
    images: Tensor,
    labels: Tensor,
    samples: Vec<usize>,
}

/// The files of a split and the evaluation transform.
struct Files {
    source: Arc<dyn SampleSource>,
    /// The samples evaluated, in order.
    indices: Vec<usize>,
    resize: usize,
    crop: usize,
    mean: [f32; 3],
    std: [f32; 3],
    threads: usize,
}

/// One block, decoded and normalised.
struct Block {
    images: Tensor,
    labels: Tensor,
    samples: Vec<usize>,
    skipped: Vec<String>,
}

/// What one thread decoded of a block: pixels, labels, samples, and the files it could not read.
type Part = (Vec<f32>, Vec<i64>, Vec<usize>, Vec<String>);

/// What a pass over the set met.
#[derive(Debug, Default)]
pub struct Pass {
    /// Whether every chunk was handed over (the callback did not stop it).
    pub finished: bool,
    /// Images handed over.
    pub images: usize,
    /// Files that could not be read or decoded (left out), each with its path and why.
    pub skipped: Vec<String>,
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

impl Files {
    /// Decodes `indices` on `threads` threads, each a contiguous part, keeping their order.
    fn decode(&self, indices: &[usize]) -> Block {
        let part = indices.len().div_ceil(self.threads.max(1)).max(1);
        let parts: Vec<Part> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                indices.chunks(part).map(|part| scope.spawn(move || self.decode_part(part))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        let (mut pixels, mut labels, mut samples, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (p, l, i, s) in parts {
            pixels.extend(p);
            labels.extend(l);
            samples.extend(i);
            skipped.extend(s);
        }
        let side = self.crop as i64;
        let images = Tensor::from_slice(&pixels).reshape([labels.len() as i64, 3, side, side]);
        Block { images, labels: Tensor::from_slice(&labels), samples, skipped }
    }

    fn decode_part(&self, indices: &[usize]) -> Part {
        let (mut pixels, mut labels, mut samples, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &index in indices {
            let path = self.source.describe(index);
            let decoded =
                self.source.read(index).map_err(|e| format!("{}: {e}", path.display())).and_then(|(bytes, label)| {
                    decode(&bytes, &path, &DecodeOptions::default())
                        .map(|image| (image, label))
                        .map_err(|e| e.to_string())
                });
            match decoded {
                Ok((image, label)) => {
                    let view = eval_transform(&image, self.resize, self.crop);
                    let start = pixels.len();
                    pixels.resize(start + 3 * self.crop * self.crop, 0.0);
                    to_tensor_normalized_into(&view, self.mean, self.std, &mut pixels[start..]);
                    labels.push(label as i64);
                    samples.push(index);
                }
                Err(error) => skipped.push(error),
            }
        }
        (pixels, labels, samples, skipped)
    }

    /// Hands `each` the chunks of every block in order, decoding the next block meanwhile.
    fn pass(&self, each: &mut dyn FnMut(&Chunk) -> bool) -> Pass {
        let mut pass = Pass::default();
        std::thread::scope(|scope| {
            let mut blocks = self.indices.chunks(BLOCK);
            let mut next = blocks.next().map(|block| scope.spawn(move || self.decode(block)));
            while let Some(decoding) = next.take() {
                let block = decoding.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                next = blocks.next().map(|block| scope.spawn(move || self.decode(block)));
                pass.skipped.extend(block.skipped);
                if !hand_over(&chunks(&block.images, &block.labels, &block.samples), each, &mut pass.images) {
                    return; // the block being decoded is waited for: at most one block's decoding
                }
            }
            pass.finished = true;
        });
        pass
    }
}

/// `images`, `labels` and `samples` in chunks of `CHUNK`.
fn chunks(images: &Tensor, labels: &Tensor, samples: &[usize]) -> Vec<Chunk> {
    let count = labels.size()[0];
    (0..count)
        .step_by(CHUNK as usize)
        .map(|start| {
            let n = CHUNK.min(count - start);
            let samples = samples[start as usize..(start + n) as usize].to_vec();
            Chunk { images: images.narrow(0, start, n), labels: labels.narrow(0, start, n), samples }
        })
        .collect()
}

/// Gives `each` the chunks until it says stop (`false`); counts the images handed over.
fn hand_over(chunks: &[Chunk], each: &mut dyn FnMut(&Chunk) -> bool, handed: &mut usize) -> bool {
    for chunk in chunks {
        if !each(chunk) {
            return false;
        }
        *handed += chunk.samples.len();
    }
    true
}

impl ValidationSet {
    /// Up to `max_images` (0 = all; otherwise evenly spaced over the dataset order, so every class
    /// is represented) of `root` — an image folder or a packed dataset — with Resize(`resize`) +
    /// CenterCrop(`crop`). Only the index is read here: each pass decodes the files again, on
    /// every core.
    pub fn load(
        root: &Path,
        resize: usize,
        crop: usize,
        mean: [f32; 3],
        std: [f32; 3],
        max_images: usize,
    ) -> Result<Self, EvalError> {
        let source = open_source(root)
            .map_err(|source| EvalError::Source { what: "data.val".into(), source: Box::new(source) })?;
        let all = source.len();
        if all == 0 {
            return Err(EvalError::NoImages(root.to_owned()));
        }
        let take = if max_images == 0 { all } else { max_images.min(all) };
        let indices = (0..take).map(|i| i * all / take).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let classes = source.classes().len();
        let files = Files { source, indices, resize, crop, mean, std, threads };
        Ok(Self {
            images: Images::Files(files),
            classes,
            skips_reported: AtomicBool::new(false),
            teacher_classes: TeacherClasses::default(),
        })
    }

    /// A set from tensors already prepared: images `[N, 3, S, S]`, labels `[N]`.
    pub fn from_tensors(images: &Tensor, labels: &Tensor) -> Self {
        let classes = if labels.numel() == 0 { 0 } else { labels.max().int64_value(&[]) as usize + 1 };
        let samples: Vec<usize> = (0..labels.size()[0] as usize).collect();
        let chunks = chunks(images, labels, &samples);
        Self {
            images: Images::Prepared(chunks),
            classes,
            skips_reported: AtomicBool::new(false),
            teacher_classes: TeacherClasses::default(),
        }
    }

    /// Number of classes of the split (for prepared tensors: the largest label + 1).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Number of images (of files: those a pass reads; any that do not decode are left out).
    pub fn len(&self) -> usize {
        match &self.images {
            Images::Files(files) => files.indices.len(),
            Images::Prepared(chunks) => chunks.iter().map(|chunk| chunk.samples.len()).sum(),
        }
    }

    /// Whether there is no image (never true of a loaded split: loading refuses an empty one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands `each` the images and labels in order, in chunks `([n, 3, S, S], [n])`, until it
    /// returns `false`. Files that do not decode are left out, named in the result, and logged as
    /// warnings by the first pass that finishes.
    pub fn pass(&self, mut each: impl FnMut(&Tensor, &Tensor) -> bool) -> Pass {
        self.pass_chunks(&mut |chunk| each(&chunk.images, &chunk.labels))
    }

    fn pass_chunks(&self, each: &mut dyn FnMut(&Chunk) -> bool) -> Pass {
        let pass = match &self.images {
            Images::Files(files) => files.pass(each),
            Images::Prepared(chunks) => {
                let mut pass = Pass::default();
                pass.finished = hand_over(chunks, each, &mut pass.images);
                pass
            }
        };
        if pass.finished && !self.skips_reported.swap(true, Ordering::Relaxed) {
            for skipped in &pass.skipped {
                tracing::warn!("validation image skipped: {skipped}");
            }
        }
        pass
    }

    /// Evaluates the student (in eval mode) against the teacher, whose classes are computed on the
    /// first complete pass and kept for later ones (`teacher_classes`). Before each chunk,
    /// `go_on(images evaluated so far)` may report progress, and abandons the pass (`Ok(None)`)
    /// by returning `false`: a stop request during a long validation must not wait for its end.
    pub fn evaluate_while(
        &mut self,
        student: &Student,
        teacher: &dyn Teacher,
        classes_match_bank: bool,
        device: Device,
        go_on: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<Validation>, EvalError> {
        let bank = teacher.bank().tensor();
        let (mut agree, mut student_correct, mut teacher_correct) = (0i64, 0i64, 0i64);
        let mut evaluated = 0;
        // Out of `self` for the pass, which borrows the set.
        let mut teacher_classes = std::mem::take(&mut self.teacher_classes);
        teacher_classes.begin(bank);
        let pass = tch::no_grad(|| {
            self.pass_chunks(&mut |chunk| {
                if !go_on(evaluated) {
                    return false;
                }
                evaluated += chunk.samples.len();
                let images = chunk.images.to_device(device);
                let labels = chunk.labels.to_device(device);
                let s = normalize_rows(&student.forward_t(&images, false).to_kind(Kind::Float));
                let s_class = (s.matmul(bank) * 100.0).argmax(1, false);
                let t_class = teacher_classes.next(&chunk.samples, device, || {
                    (teacher.embed(&images).to_kind(Kind::Float).matmul(bank) * 100.0).argmax(1, false)
                });
                agree += s_class.eq_tensor(&t_class).sum(Kind::Int64).int64_value(&[]);
                student_correct += s_class.eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
                teacher_correct += t_class.eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
                true
            })
        });
        if pass.finished {
            teacher_classes.finish();
        }
        self.teacher_classes = teacher_classes;
        if !pass.finished {
            return Ok(None);
        }
        if pass.images == 0 {
            return Err(EvalError::NothingDecoded {
                images: self.len(),
                first: pass.skipped.first().cloned().unwrap_or_else(|| "?".into()),
            });
        }
        let n = pass.images as f64;
        Ok(Some(Validation {
            agreement: agree as f64 / n,
            student_top1: classes_match_bank.then(|| student_correct as f64 / n),
            teacher_top1: classes_match_bank.then(|| teacher_correct as f64 / n),
            images: pass.images,
        }))
    }
}

#[cfg(test)]
mod tests;
