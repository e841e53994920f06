//! The CLIP teacher: the image tower embeds, the text bank comes from prompts (`lgd bank`, or
//! computed at start) and must have the tower's width.

use tch::Tensor;

use super::Teacher;
use crate::models::clip::Clip;
use crate::objective::{normalize_rows, BankError, TextBank};

/// CLIP's normalisation (the constants OpenAI trained with).
const CLIP_MEAN: [f64; 3] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [f64; 3] = [0.26862954, 0.26130258, 0.27577711];

/// CLIP's image tower and a text bank of the same width.
#[derive(Debug)]
pub struct ClipTeacher {
    clip: Clip,
    bank: TextBank,
}

impl ClipTeacher {
    /// Pairs the towers with a bank, refusing a bank of another width.
    pub fn new(clip: Clip, bank: TextBank) -> Result<Self, BankError> {
        let width = clip.config().embed_dim;
        if bank.dim() != width {
            return Err(BankError::Shape {
                what: "text bank for this CLIP teacher".into(),
                expected: format!("[{width}, classes] (the teacher's embedding width)"),
                shape: bank.tensor().size(),
                kind: format!("{:?}", bank.tensor().kind()),
            });
        }
        Ok(Self { clip, bank })
    }

    /// The towers (e.g. to compute a bank from prompts).
    pub fn clip(&self) -> &Clip {
        &self.clip
    }
}

impl Teacher for ClipTeacher {
    fn embed(&self, images: &Tensor) -> Tensor {
        normalize_rows(&self.clip.encode_image(images))
    }

    fn bank(&self) -> &TextBank {
        &self.bank
    }

    fn normalisation(&self) -> ([f64; 3], [f64; 3]) {
        (CLIP_MEAN, CLIP_STD)
    }
}
