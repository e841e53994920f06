//! CLIP's modified ResNet image tower (`visual.*` of RN50 … RN50x64): a 3-convolution stem ending
//! in an average pool, Bottleneck stages whose strided blocks down-sample by average pooling
//! (anti-aliasing) rather than by strided convolutions, and attention pooling with a positional
//! embedding instead of global average pooling.

use tch::Tensor;

use super::layers::{BatchNorm2d, Conv2d, Linear};
use super::weights::Weights;

/// Bottleneck output channels per plane.
const EXPANSION: i64 = 4;

/// One Bottleneck: 1×1, 3×3, [avg-pool if strided], 1×1; the shortcut avg-pools then projects.
#[derive(Debug)]
struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    conv3: Conv2d,
    bn3: BatchNorm2d,
    /// `downsample.0` (1×1 conv) and `downsample.1` (BN), after an avg-pool of the stride.
    downsample: Option<(Conv2d, BatchNorm2d)>,
    stride: i64,
}

impl Bottleneck {
    fn load(w: &mut Weights, prefix: &str, inplanes: i64, planes: i64, stride: i64) -> Self {
        let out = planes * EXPANSION;
        let downsample = (stride > 1 || inplanes != out).then(|| {
            (
                Conv2d::load(w, &format!("{prefix}.downsample.0"), inplanes, out, 1, 1, 0),
                BatchNorm2d::load(w, &format!("{prefix}.downsample.1"), out),
            )
        });
        Self {
            conv1: Conv2d::load(w, &format!("{prefix}.conv1"), inplanes, planes, 1, 1, 0),
            bn1: BatchNorm2d::load(w, &format!("{prefix}.bn1"), planes),
            conv2: Conv2d::load(w, &format!("{prefix}.conv2"), planes, planes, 3, 1, 1),
            bn2: BatchNorm2d::load(w, &format!("{prefix}.bn2"), planes),
            conv3: Conv2d::load(w, &format!("{prefix}.conv3"), planes, out, 1, 1, 0),
            bn3: BatchNorm2d::load(w, &format!("{prefix}.bn3"), out),
            downsample,
            stride,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let pool = |t: Tensor| {
            if self.stride > 1 {
                t.avg_pool2d([self.stride], [self.stride], [0], false, true, None)
            } else {
                t
            }
        };
        let out = self.bn1.forward(&self.conv1.forward(x)).relu();
        let out = pool(self.bn2.forward(&self.conv2.forward(&out)).relu());
        let out = self.bn3.forward(&self.conv3.forward(&out));
        let identity = match &self.downsample {
            Some((conv, bn)) => bn.forward(&conv.forward(&pool(x.shallow_clone()))),
            None => x.shallow_clone(),
        };
        (out + identity).relu()
    }
}

/// `visual.attnpool`: one query, the mean of the feature map, attends over the mean and every
/// position (positional embedding added); its output, projected, is the image embedding.
#[derive(Debug)]
struct AttentionPool {
    positional_embedding: Tensor, // [grid² + 1, channels]
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    c_proj: Linear,
    heads: i64,
}

impl AttentionPool {
    fn load(w: &mut Weights, prefix: &str, grid: i64, channels: i64, heads: i64, output: i64) -> Self {
        Self {
            positional_embedding: w.take(&format!("{prefix}.positional_embedding"), &[grid * grid + 1, channels]),
            q_proj: Linear::load(w, &format!("{prefix}.q_proj"), channels, channels),
            k_proj: Linear::load(w, &format!("{prefix}.k_proj"), channels, channels),
            v_proj: Linear::load(w, &format!("{prefix}.v_proj"), channels, channels),
            c_proj: Linear::load(w, &format!("{prefix}.c_proj"), channels, output),
            heads,
        }
    }

    /// `[batch, channels, grid, grid]` → `[batch, output]`.
    fn forward(&self, x: &Tensor) -> Tensor {
        let (batch, channels, _, _) = x.size4().expect("[batch, channels, grid, grid]");
        let tokens = x.flatten(2, 3).transpose(1, 2); // [batch, grid², channels]
        let tokens = Tensor::cat(&[tokens.mean_dim(1, true, tokens.kind()), tokens], 1); // [batch, grid² + 1, channels]
        let tokens = tokens + self.positional_embedding.to_kind(x.kind());
        let seq = tokens.size()[1];
        let head_dim = channels / self.heads;
        let heads = |t: Tensor, len: i64| t.reshape([batch, len, self.heads, head_dim]).transpose(1, 2); // [batch, heads, len, head_dim]
                                                                                                         // Only the first position's output is used, so only its query is computed.
        let q = heads(self.q_proj.forward(&tokens.narrow(1, 0, 1)), 1);
        let k = heads(self.k_proj.forward(&tokens), seq);
        let v = heads(self.v_proj.forward(&tokens), seq);
        let pooled = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, false, None, false); // [batch, heads, 1, head_dim]
        self.c_proj.forward(&pooled.transpose(1, 2).reshape([batch, channels]))
    }
}

/// `visual`: the whole modified ResNet.
#[derive(Debug)]
pub struct ModifiedResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    conv3: Conv2d,
    bn3: BatchNorm2d,
    /// `layer1` … `layer4`.
    stages: Vec<Vec<Bottleneck>>,
    attnpool: AttentionPool,
}

impl ModifiedResNet {
    /// Loads `visual.*` for the given stage depths, stem width, input size and embedding width.
    pub fn load(w: &mut Weights, layers: [usize; 4], width: i64, image_size: i64, heads: i64, embed_dim: i64) -> Self {
        let half = width / 2;
        let mut inplanes = width;
        let mut stages = Vec::with_capacity(4);
        for (index, &blocks) in layers.iter().enumerate() {
            let planes = width << index;
            let stride = if index == 0 { 1 } else { 2 };
            let mut stage = Vec::with_capacity(blocks);
            for block in 0..blocks {
                let prefix = format!("visual.layer{}.{block}", index + 1);
                stage.push(Bottleneck::load(w, &prefix, inplanes, planes, if block == 0 { stride } else { 1 }));
                inplanes = planes * EXPANSION;
            }
            stages.push(stage);
        }
        Self {
            conv1: Conv2d::load(w, "visual.conv1", 3, half, 3, 2, 1),
            bn1: BatchNorm2d::load(w, "visual.bn1", half),
            conv2: Conv2d::load(w, "visual.conv2", half, half, 3, 1, 1),
            bn2: BatchNorm2d::load(w, "visual.bn2", half),
            conv3: Conv2d::load(w, "visual.conv3", half, width, 3, 1, 1),
            bn3: BatchNorm2d::load(w, "visual.bn3", width),
            stages,
            attnpool: AttentionPool::load(w, "visual.attnpool", image_size / 32, width * 32, heads, embed_dim),
        }
    }

    /// `[batch, 3, size, size]` (CLIP-normalised) → `[batch, embed_dim]`, not normalised.
    pub fn forward(&self, images: &Tensor) -> Tensor {
        let x = self.bn1.forward(&self.conv1.forward(images)).relu();
        let x = self.bn2.forward(&self.conv2.forward(&x)).relu();
        let x = self.bn3.forward(&self.conv3.forward(&x)).relu();
        let mut x = x.avg_pool2d([2], [2], [0], false, true, None); // [batch, width, size/4, size/4]
        for block in self.stages.iter().flatten() {
            x = block.forward(&x);
        }
        self.attnpool.forward(&x) // x: [batch, width · 32, size/32, size/32]
    }
}
