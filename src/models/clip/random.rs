//! Random CLIP weights, for benchmarks and tests that need the real architecture but no checkpoint.
//! The distribution is the one the open_clip oracles use (tests/oracle/clip_towers_oracle.py): weights
//! N(0, 1/fan-in) so activations stay O(1) through every block, norm gains near 1, positive running
//! variances — a random RN50 then gives finite embeddings under fp16 autocast too.

use tch::{Device, Kind, Tensor};

/// One tensor named `name` (its checkpoint key) of `shape`, drawn from libtorch's global generator.
pub fn draw(name: &str, shape: &[i64], kind: Kind, device: Device) -> Tensor {
    let options = (Kind::Float, device);
    let tensor = if name.ends_with("running_var") {
        Tensor::rand(shape, options) + 0.5 // U(0.5, 1.5)
    } else if name.ends_with("running_mean") {
        Tensor::randn(shape, options) * 0.1
    } else if shape.len() <= 1 {
        let noise = Tensor::randn(shape, options) * 0.5;
        if name.ends_with("weight") {
            noise + 1.0
        } else {
            noise
        } // norm gains around 1, biases around 0
    } else {
        let fan_in: i64 = shape[1..].iter().product();
        Tensor::randn(shape, options) / (fan_in as f64).sqrt()
    };
    tensor.to_kind(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::clip::{Clip, ClipConfig, LoadOptions};

    #[test]
    fn a_random_tiny_clip_embeds_finitely() {
        tch::manual_seed(0);
        let config = ClipConfig::tiny_rn();
        let clip = Clip::random(&config, LoadOptions::default());
        let images = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        let embeddings = clip.encode_image(&images);
        assert_eq!(embeddings.size(), vec![2, config.embed_dim]);
        assert_eq!(embeddings.isfinite().all().int64_value(&[]), 1);
    }
}
