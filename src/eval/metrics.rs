//! Classification scores from logits: top-1 and top-5 accuracy.

use tch::{Kind, Tensor};

/// Fraction of rows whose label is among the `k` highest scores.
pub fn top_k_accuracy(scores: &Tensor, labels: &Tensor, k: i64) -> f64 {
    let k = k.min(scores.size()[1]);
    let (_, top) = scores.topk(k, 1, true, true); // [N, k]
    let hits = top.eq_tensor(&labels.unsqueeze(1)).any_dim(1, false);
    hits.to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
}

/// (top-1, top-5).
pub fn top1_top5(scores: &Tensor, labels: &Tensor) -> (f64, f64) {
    (top_k_accuracy(scores, labels, 1), top_k_accuracy(scores, labels, 5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_among_the_top_k() {
        let scores = Tensor::from_slice(&[0.9f32, 0.1, 0.0, 0.2, 0.5, 0.3]).reshape([2, 3]);
        let labels = Tensor::from_slice(&[0i64, 2]);
        assert_eq!(top_k_accuracy(&scores, &labels, 1), 0.5);
        assert_eq!(top_k_accuracy(&scores, &labels, 2), 1.0);
    }
}
