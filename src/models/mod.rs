//! The networks.
//!
//! - [`layers`]: blocks shared by the torchvision-style models (BN with num_batches_tracked, SE, …).
//! - [`student`]: torchvision-exact students with the LGD head.
//! - [`teacher`]: the supervised teacher (EfficientNet-Lite0 with ImageNet weights).
//! - [`clip`]: CLIP's tokenizer and towers, loaded from OpenAI or open_clip checkpoints.
//! - [`state_dict`]: loading named tensors into a model, reporting what does not fit.

pub mod clip;
pub mod layers;
pub mod state_dict;
pub mod student;
pub mod teacher;
