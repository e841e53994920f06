//! Weighted k-nearest-neighbour classification on L2-normalised features, the instance-
//! discrimination protocol (Wu et al. 2018): the k most similar training features vote for their
//! class with weight exp(similarity / τ); k = 20, τ = 0.07 by default.

use tch::{Kind, Tensor};

use crate::objective::normalize_rows;

/// Class scores `[N, C]` for `queries` `[N, F]` against `bank` `[M, F]` with labels `[M]`.
pub fn knn_scores(
    bank: &Tensor,
    bank_labels: &Tensor,
    queries: &Tensor,
    classes: i64,
    k: i64,
    temperature: f64,
) -> Tensor {
    let bank = normalize_rows(&bank.to_kind(Kind::Float));
    let k = k.min(bank.size()[0]);
    let mut chunks = Vec::new();
    for start in (0..queries.size()[0]).step_by(256) {
        let length = 256.min(queries.size()[0] - start);
        let q = normalize_rows(&queries.narrow(0, start, length).to_kind(Kind::Float));
        let similarity = q.matmul(&bank.tr()); // [n, M]
        let (values, indices) = similarity.topk(k, 1, true, true); // [n, k]
        let weights = (values / temperature).exp();
        let votes = bank_labels.index_select(0, &indices.flatten(0, -1)).reshape([length, k]);
        let scores = Tensor::zeros([length, classes], (Kind::Float, q.device())).scatter_add(1, &votes, &weights);
        chunks.push(scores);
    }
    Tensor::cat(&chunks, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_neighbours_vote_with_their_weights() {
        let bank = Tensor::from_slice(&[1.0f32, 0.0, 0.9, 0.1, 0.0, 1.0]).reshape([3, 2]);
        let labels = Tensor::from_slice(&[0i64, 0, 1]);
        let queries = Tensor::from_slice(&[1.0f32, 0.05, 0.0, 1.0]).reshape([2, 2]);
        let scores = knn_scores(&bank, &labels, &queries, 2, 2, 0.07);
        let predicted: Vec<i64> = Vec::try_from(scores.argmax(1, false)).unwrap();
        assert_eq!(predicted, vec![0, 1]);
        assert_eq!(scores.size(), vec![2, 2]);
    }

    #[test]
    fn clustered_features_classify_and_unrelated_labels_stay_at_chance() {
        tch::manual_seed(4);
        let centres = Tensor::randn([8, 16], (Kind::Float, tch::Device::Cpu)) * 3.0;
        let labels = Tensor::randint(8, [800], (Kind::Int64, tch::Device::Cpu));
        let features = centres.index_select(0, &labels) + Tensor::randn([800, 16], (Kind::Float, tch::Device::Cpu));
        let (bank, bank_labels) = (features.narrow(0, 0, 600), labels.narrow(0, 0, 600));
        let (queries, truth) = (features.narrow(0, 600, 200), labels.narrow(0, 600, 200));
        let accuracy = |bank_labels: &Tensor| {
            let predicted = knn_scores(&bank, bank_labels, &queries, 8, 20, 0.07).argmax(1, false);
            predicted.eq_tensor(&truth).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
        };
        let clustered = accuracy(&bank_labels);
        let random = accuracy(&Tensor::randint(8, [600], (Kind::Int64, tch::Device::Cpu)));
        assert!(clustered >= 0.95, "clustered: {clustered}");
        assert!(random < 0.3, "labels unrelated to features: {random} (chance 0.125)");
    }
}
