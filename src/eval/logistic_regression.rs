//! The fast linear probe of CLIP's protocol: multinomial logistic regression on frozen, cached
//! features, fitted to convergence by L-BFGS, with the L2 penalty chosen by a sweep on a held-out
//! part of the training split and the model refitted on all of it at the chosen penalty.
//!
//! Objective: mean cross-entropy + (λ/2)·‖W‖² (the bias is not penalised). scikit-learn's
//! `LogisticRegression(C)`, which CLIP's protocol uses, minimises C·Σ CE + ½‖W‖²: the same
//! optimum at λ = 1/(C·N). Features are standardised with the training split's statistics first.

use tch::{Kind, Tensor};

use super::feature_groups::FeatureGroups;
use super::lbfgs::{minimize, LbfgsConfig};
use super::metrics::top1_top5;

/// The penalties tried: 10^-6 … 10^1 in half-decades.
pub fn penalty_grid() -> Vec<f64> {
    (0..=14).map(|k| 10f64.powf(-6.0 + 0.5 * k as f64)).collect()
}

/// A fitted classifier over standardised features.
#[derive(Debug)]
pub struct LogisticRegression {
    /// `[F, C]`.
    pub weight: Tensor,
    /// `[C]`.
    pub bias: Tensor,
    mean: Tensor,
    std: Tensor,
    /// The objective at the optimum.
    pub objective: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Features given.
    pub features_in: i64,
    /// Features solved on, once copies are merged and constant ones left out.
    pub solved_on: i64,
}

/// Mean and standard deviation per feature (a constant feature gets 1, so it maps to 0).
fn standardisation(features: &Tensor) -> (Tensor, Tensor) {
    let features = features.to_kind(Kind::Double);
    let mean = features.mean_dim(0, true, Kind::Double);
    let std = features.std_dim(0, false, true);
    let std = std.where_self(&std.gt(1e-12), &std.ones_like());
    (mean, std)
}

/// Mean cross-entropy + (λ/2)‖W‖² and its gradient, parameters flattened as [W (F·C) | b (C)].
/// `columns` is `features` transposed and contiguous: the gradient's product reads it row by row,
/// several times faster than through a transposed view.
fn objective(x: &Tensor, features: &Tensor, columns: &Tensor, onehot: &Tensor, penalty: f64) -> (f64, Tensor) {
    let (f, c) = (features.size()[1], onehot.size()[1]);
    let weight = x.narrow(0, 0, f * c).view([f, c]);
    let bias = x.narrow(0, f * c, c);
    let logits = features.matmul(&weight) + &bias;
    let log_p = logits.log_softmax(1, Kind::Double);
    let n = features.size()[0] as f64;
    let loss = -(onehot * &log_p).sum(Kind::Double).double_value(&[]) / n;
    let l2 = (&weight * &weight).sum(Kind::Double).double_value(&[]);
    let g = (log_p.exp() - onehot) / n;
    let grad_weight = columns.matmul(&g) + &weight * penalty;
    let grad_bias = g.sum_dim_intlist(0, false, Kind::Double);
    (loss + 0.5 * penalty * l2, Tensor::cat(&[grad_weight.flatten(0, -1), grad_bias], 0))
}

/// Training features as the solver takes them: standardised, copies merged ([`FeatureGroups`]),
/// and transposed for the gradient. Made once, fitted at every penalty of a sweep.
struct Prepared {
    mean: Tensor,
    std: Tensor,
    groups: FeatureGroups,
    x: Tensor,
    columns: Tensor,
}

impl Prepared {
    fn new(features: &Tensor) -> Self {
        let (mean, std) = standardisation(features);
        let x = (features.to_kind(Kind::Double) - &mean) / &std;
        let columns = x.tr().contiguous();
        let groups = FeatureGroups::find(&columns);
        let (x, columns) =
            if groups.is_identity() { (x, columns) } else { (groups.reduce(&x, 1), groups.reduce(&columns, 0)) };
        Self { mean, std, groups, x, columns }
    }

    fn fit(
        &self,
        labels: &Tensor,
        classes: i64,
        penalty: f64,
        warm: Option<&LogisticRegression>,
        lbfgs: LbfgsConfig,
    ) -> LogisticRegression {
        let onehot = labels.one_hot(classes).to_kind(Kind::Double);
        let f = self.x.size()[1];
        let start = match warm {
            Some(w) => Tensor::cat(&[self.groups.reduce(&w.weight, 0).flatten(0, -1), w.bias.shallow_clone()], 0),
            None => Tensor::zeros([f * classes + classes], (Kind::Double, self.x.device())),
        };
        let result = minimize(start, lbfgs, |p| objective(p, &self.x, &self.columns, &onehot, penalty));
        let weight = result.x.narrow(0, 0, f * classes).view([f, classes]);
        let weight = if self.groups.is_identity() { weight } else { self.groups.expand(&weight) };
        let bias = result.x.narrow(0, f * classes, classes);
        let (features_in, solved_on) = self.groups.counts();
        let (mean, std) = (self.mean.shallow_clone(), self.std.shallow_clone());
        LogisticRegression {
            weight,
            bias,
            mean,
            std,
            objective: result.value,
            iterations: result.iterations,
            features_in,
            solved_on,
        }
    }
}

impl LogisticRegression {
    /// Fits on `features` `[N, F]` with `labels` `[N]` in `0..classes` at penalty λ, starting
    /// from `warm` (a previous fit's parameters) when given. Copies of one standardised feature
    /// are solved as one ([`FeatureGroups`]); the weights come back over all `F` features.
    pub fn fit(
        features: &Tensor,
        labels: &Tensor,
        classes: i64,
        penalty: f64,
        warm: Option<&LogisticRegression>,
        lbfgs: LbfgsConfig,
    ) -> Self {
        Prepared::new(features).fit(labels, classes, penalty, warm, lbfgs)
    }

    /// Class scores `[N, C]`.
    pub fn scores(&self, features: &Tensor) -> Tensor {
        ((features.to_kind(Kind::Double) - &self.mean) / &self.std).matmul(&self.weight) + &self.bias
    }
}

/// The sweep's outcome and the test figures of the refitted classifier.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeReport {
    /// The chosen λ.
    pub penalty: f64,
    /// Held-out top-1 of each λ tried.
    pub sweep: Vec<(f64, f64)>,
    /// Test top-1.
    pub top1: f64,
    /// Test top-5.
    pub top5: f64,
    /// Features given, and features solved on once copies are merged ([`FeatureGroups`]).
    pub features: (i64, i64),
}

/// Sweeps λ from strong to weak (fit on a seeded 80 % of `train`, score on the other 20 %; the
/// sweep fits stop at a looser gradient tolerance, enough to rank penalties, and the sweep ends
/// once three penalties in a row score no better than the best), refits on all of `train` with the best to
/// full convergence, and scores `test`. `on_penalty` sees each (λ, held-out top-1) as it is done.
pub fn sweep_and_fit(
    train: &Tensor,
    train_labels: &Tensor,
    test: &Tensor,
    test_labels: &Tensor,
    classes: i64,
    seed: i64,
    mut on_penalty: impl FnMut(f64, f64),
) -> ProbeReport {
    let n = train.size()[0];
    tch::manual_seed(seed);
    let order = Tensor::randperm(n, (Kind::Int64, train.device()));
    let fit_count = (n * 4 / 5).max(1);
    let (fit_index, held_index) = (order.narrow(0, 0, fit_count), order.narrow(0, fit_count, n - fit_count));
    let (fit_x, fit_y) = (train.index_select(0, &fit_index), train_labels.index_select(0, &fit_index));
    let (held_x, held_y) = (train.index_select(0, &held_index), train_labels.index_select(0, &held_index));
    let mut sweep = Vec::new();
    let mut previous: Option<LogisticRegression> = None;
    // From the strongest penalty down: each fit starts from the smoother solution before it.
    let sweep_lbfgs = LbfgsConfig { gradient_tolerance: 1e-5, max_iterations: 500, ..LbfgsConfig::default() };
    let (mut best, mut worse_in_a_row) = (-1.0, 0);
    let prepared = Prepared::new(&fit_x);
    for penalty in penalty_grid().into_iter().rev() {
        let model = prepared.fit(&fit_y, classes, penalty, previous.as_ref(), sweep_lbfgs);
        let accuracy = if n - fit_count > 0 { top1_top5(&model.scores(&held_x), &held_y).0 } else { 0.0 };
        on_penalty(penalty, accuracy);
        sweep.push((penalty, accuracy));
        previous = Some(model);
        if accuracy > best {
            (best, worse_in_a_row) = (accuracy, 0);
        } else {
            worse_in_a_row += 1;
            if worse_in_a_row == 3 {
                break;
            }
        }
    }
    drop(prepared);
    // Ties go to the stronger penalty (the first one seen).
    let (penalty, _) =
        sweep.iter().copied().fold((f64::NAN, -1.0), |best, (p, a)| if a > best.1 { (p, a) } else { best });
    let model = LogisticRegression::fit(train, train_labels, classes, penalty, None, LbfgsConfig::default());
    let (top1, top5) = top1_top5(&model.scores(test), test_labels);
    ProbeReport { penalty, sweep, top1, top5, features: (model.features_in, model.solved_on) }
}
