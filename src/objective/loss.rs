//! The two logit sets of a step and the soft cross-entropy that ties the student to the teacher.
//!
//! image bank: student [s·t | s·V] / τs against teacher softmax([t·t | t·V] / τt), B×(C+1);
//! text bank:  student s·T / τs       against teacher softmax(t·T / τt),          B×C;
//! L = w_img·H(image) + w_text·H(text), with w = ½ each in the published recipe.

use tch::{Kind, Tensor};

use super::{TextBank, VisualBank};

/// Rows scaled to unit L2 norm (denominator clamped at 1e-12, as `torch.nn.functional.normalize`).
pub fn normalize_rows(x: &Tensor) -> Tensor {
    x / x.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12)
}

/// H(p, q) = −(1/B) Σ_b Σ_k q[b,k] · log_softmax(p)[b,k]: cross-entropy against soft targets.
pub fn soft_cross_entropy(logits: &Tensor, targets: &Tensor) -> Tensor {
    let per_sample = (targets * logits.log_softmax(1, None::<Kind>)).sum_dim_intlist(1, false, None::<Kind>);
    per_sample.mean(None::<Kind>).neg()
}

/// Temperatures and weights of the objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LgdLoss {
    /// τs, divides the student's similarities (0.2).
    pub student_temperature: f64,
    /// τt, divides the teacher's similarities before the softmax (0.01).
    pub teacher_temperature: f64,
    /// Weight of the image-bank term (½).
    pub image_weight: f64,
    /// Weight of the text-bank term (½).
    pub text_weight: f64,
}

impl Default for LgdLoss {
    fn default() -> Self {
        Self { student_temperature: 0.2, teacher_temperature: 0.01, image_weight: 0.5, text_weight: 0.5 }
    }
}

/// Everything one step's objective produced; logits and targets are kept for metrics and tests.
#[derive(Debug)]
pub struct LgdTerms {
    /// The weighted total, a scalar with the student's graph.
    pub loss: Tensor,
    /// H over the image bank.
    pub image_loss: Tensor,
    /// H over the text bank.
    pub text_loss: Tensor,
    /// Student image-bank logits `[B, C+1]` (column 0: the positive pair s·t).
    pub image_logits: Tensor,
    /// Teacher image-bank distribution `[B, C+1]`.
    pub image_targets: Tensor,
    /// Student text-bank logits `[B, C]`.
    pub text_logits: Tensor,
    /// Teacher text-bank distribution `[B, C]`.
    pub text_targets: Tensor,
}

/// The teacher's side of a step's objective: both target distributions and the visual bank V
/// they were computed against (the student's logits must use the same V).
#[derive(Debug)]
pub struct LgdTargets {
    /// V `[D, C]` as it stood when the targets were computed.
    pub visual: Tensor,
    /// Teacher image-bank distribution `[B, C+1]`.
    pub image: Tensor,
    /// Teacher text-bank distribution `[B, C]`.
    pub text: Tensor,
}

impl LgdLoss {
    /// The objective for normalised student `s` and teacher `t` embeddings `[B, D]`, using the
    /// banks as they are now (before this step's LGKA update). Computed in float32.
    pub fn compute(&self, student: &Tensor, teacher: &Tensor, text: &TextBank, visual: &VisualBank) -> LgdTerms {
        let targets = self.targets(teacher, text, visual.tensor());
        self.against(student, teacher, text, &targets)
    }

    /// The teacher's target distributions for keys `t` `[B, D]` against T and V `[D, C]`: no
    /// student involved, so bank maintenance computes them while the student's forward runs.
    pub fn targets(&self, teacher: &Tensor, text: &TextBank, visual: &Tensor) -> LgdTargets {
        let t = teacher.to_kind(Kind::Float).detach();
        tch::no_grad(|| {
            let teacher_positive = (&t * &t).sum_dim_intlist(1, true, None::<Kind>);
            let image = Tensor::cat(&[teacher_positive, t.matmul(visual)], 1) / self.teacher_temperature;
            let text = t.matmul(text.tensor()) / self.teacher_temperature;
            LgdTargets {
                visual: visual.shallow_clone(),
                image: image.softmax(1, None::<Kind>),
                text: text.softmax(1, None::<Kind>),
            }
        })
    }

    /// The objective of normalised student embeddings `s` against the teacher's keys `t` and the
    /// targets computed from them (with the V recorded there).
    pub fn against(&self, student: &Tensor, teacher: &Tensor, text: &TextBank, targets: &LgdTargets) -> LgdTerms {
        let s = student.to_kind(Kind::Float);
        let t = teacher.to_kind(Kind::Float).detach();

        let positive = (&s * &t).sum_dim_intlist(1, true, None::<Kind>); // [B, 1]
        let image_logits = Tensor::cat(&[positive, s.matmul(&targets.visual)], 1) / self.student_temperature;
        let text_logits = s.matmul(text.tensor()) / self.student_temperature;

        let image_loss = soft_cross_entropy(&image_logits, &targets.image);
        let text_loss = soft_cross_entropy(&text_logits, &targets.text);
        let loss = &image_loss * self.image_weight + &text_loss * self.text_weight;
        let (image_targets, text_targets) = (targets.image.shallow_clone(), targets.text.shallow_clone());
        LgdTerms { loss, image_loss, text_loss, image_logits, image_targets, text_logits, text_targets }
    }
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    #[test]
    fn soft_cross_entropy_of_one_hot_targets_is_the_usual_one() {
        let logits = Tensor::randn([6, 4], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 3, 1, 2, 2, 0]);
        let one_hot = labels.one_hot(4).to_kind(Kind::Float);
        let ours = soft_cross_entropy(&logits, &one_hot);
        let reference = logits.cross_entropy_for_logits(&labels);
        assert!(ours.allclose(&reference, 1e-6, 1e-6, false));
    }

    #[test]
    fn a_student_equal_to_the_teacher_minimises_nothing_below_the_targets_entropy() {
        // Identical embeddings still give a positive loss: τs ≠ τt makes the distributions differ.
        let t = normalize_rows(&Tensor::randn([8, 16], (Kind::Float, Device::Cpu)));
        let text = TextBank::new(normalize_rows(&Tensor::randn([5, 16], (Kind::Float, Device::Cpu))).tr()).unwrap();
        let visual = VisualBank::random(16, 5, 0.999, Device::Cpu);
        let terms = LgdLoss::default().compute(&t, &t, &text, &visual);
        assert_eq!(terms.image_logits.size(), vec![8, 6]);
        assert_eq!(terms.text_logits.size(), vec![8, 5]);
        let sums = terms.image_targets.sum_dim_intlist(1, false, Kind::Float);
        assert!(sums.allclose(&Tensor::ones([8], (Kind::Float, Device::Cpu)), 1e-6, 1e-6, false));
        assert!(terms.loss.double_value(&[]) > 0.0);
    }
}
