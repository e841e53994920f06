//! `lgd`: Language-Guided Distillation — pre-training small image models by distilling a frozen
//! CLIP (or supervised) teacher into them, guided by the category names of the target task.
//!
//! Module map:
//! - [`bench_step`]: `lgd bench step`, the training step alone on synthetic device tensors.
//! - [`checkpoint`]: checksummed, atomic training checkpoints; retention and auto-resume.
//! - [`config`]: the TOML configuration of a whole run, validated with field paths.
//! - [`models`]: the networks: students (torchvision-exact), the supervised and CLIP teachers.
//! - [`distributed`]: c10d process groups (TCPStore + Gloo) and data-parallel training over them.
//! - [`daemon`]: `lgd train` — start-up checks, the training loop, checkpoints, signals, reload.
//! - [`launch`]: `lgd launch` — N ranks of a command with torchrun's environment, supervised.
//! - [`status_server`]: `[status]` — live status, Prometheus metrics, dashboard; `lgd status`.
//! - [`eval`]: validation during training: teacher agreement and zero-shot top-1.
//! - [`export`]: a trained student in torchvision, safetensors or mmdet/mmseg MobileNetV2 layout.
//! - [`fault_injection`]: failures on purpose for the tests (only with the cargo feature `fault-injection`).
//! - [`fetch_clip`]: OpenAI's published CLIP checkpoints, downloaded with resume and verified.
//! - [`plot`]: a run's `metrics.jsonl` drawn as a PNG of training curves.
//! - [`photometric`]: jitter, grayscale, blur and normalisation batched on the training device.
//! - [`objective`]: the text and visual banks, the LGKA update, the two logit sets and the loss.
//! - [`teacher_cache`]: the teacher's embeddings of V views per image, stored once and replayed (`replay`: a run's use of it).
//! - [`torch_ext`]: the C++ extension: channels_last and the autocast dtype, which tch lacks.
//! - [`train`]: SGD with owned momentum, the warm-up + cosine schedule, the fp16 gradient scaler.
//! - [`weights`]: weight files users have (safetensors, torch.save zip/legacy) as state dicts.
//! - [`tensor_io`]: named tensors in safetensors files.
//! - [`atomic_file`]: all-or-nothing file replacement (banks, checkpoints).
//! - [`runtime_info`]: which libtorch the process loaded and what devices it sees.
//! - [`tensorboard`]: TensorBoard event files (scalars) written without TensorFlow.
//! - [`logging`]: tracing set-up for the binary (human-readable or JSON).
#![warn(missing_docs)]

pub mod atomic_file;
pub mod bench_step;
pub mod checkpoint;
pub mod config;
pub mod daemon;
pub mod distributed;
pub mod eval;
pub mod export;
pub mod fault_injection;
pub mod fetch_clip;
pub mod launch;
pub mod logging;
pub mod models;
pub mod objective;
pub mod photometric;
pub mod plot;
pub mod runtime_info;
pub mod status_server;
pub mod teacher_cache;
pub mod tensor_io;
pub mod tensorboard;
pub mod torch_ext;
pub mod train;
pub mod weights;
