//! The networks: the CLIP teacher (tokenizer now; image and text towers next).
//!
//! - [`clip`]: CLIP's tokenizer and towers, loaded from OpenAI or open_clip checkpoints.

pub mod clip;
