//! Copies of one feature, found once so the L-BFGS probe solves the smaller problem they stand for.
//!
//! Under an L2 penalty, k equal columns z with weights w₁…w_k cost Σw_i² for the score z·Σw_i, least
//! when the weights are equal; one column √k·z with weight u = Σw_i/√k gives the same score at the
//! same cost. So the probe's optimum is unchanged when each group of equal standardised columns is
//! replaced by its sum over √k, and a column that is constant on the training set (0 once
//! standardised) is left out: its weight is 0 at the optimum. The map is an orthonormal change of
//! basis onto the span the columns occupy, so weights move between the two spaces exactly.
//! Grey images read as RGB are the case that matters: their three channels standardise to the same
//! values, and the raw-pixel probe becomes a third of the size.

use tch::{Kind, Tensor};

/// Two standardised columns whose values differ by at most this everywhere are one feature. The
/// features come in as f32, whose rounding alone moves a standardised value by ~1e-7.
pub const EQUAL_WITHIN: f64 = 1e-5;

/// Which columns of `[N, F]` features are kept, and the group each kept column sums into.
#[derive(Debug)]
pub struct FeatureGroups {
    features: i64,
    groups: i64,
    /// Indices of the kept columns `[K]`.
    kept: Tensor,
    /// The group of each kept column `[K]`, in `0..groups`.
    group_of_kept: Tensor,
    /// 1/√(group size) `[G]`.
    scale: Tensor,
}

impl FeatureGroups {
    /// Groups the standardised features that are equal within [`EQUAL_WITHIN`], and leaves out
    /// those that are zero throughout. `columns` is `[F, N]` (double): one row per feature, so that
    /// comparing two features reads contiguous memory.
    pub fn find(columns: &Tensor) -> Self {
        let (f, n) = (columns.size()[0], columns.size()[1]);
        let device = columns.device();
        let live: Vec<bool> = Vec::try_from(columns.abs().amax(1, false).gt(EQUAL_WITHIN)).expect("a bool per feature");
        // Equal columns have equal projections onto any direction: sort by one, then confirm.
        let direction: Vec<f64> =
            (0..n).map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 1_000_003) as f64 / 1_000_003.0 - 0.5).collect();
        let direction = Tensor::from_slice(&direction).to_device(device);
        let reach = EQUAL_WITHIN * direction.abs().sum(Kind::Double).double_value(&[]);
        let projection: Vec<f64> = Vec::try_from(columns.mv(&direction)).expect("a projection per column");
        let mut order: Vec<usize> = (0..f as usize).filter(|&j| live[j]).collect();
        order.sort_by(|&a, &b| projection[a].total_cmp(&projection[b]).then(a.cmp(&b)));
        let equal = |a: usize, b: usize| {
            let gap = (columns.get(a as i64) - columns.get(b as i64)).abs().max();
            gap.double_value(&[]) <= EQUAL_WITHIN
        };
        // Within each run of near-equal projections, a column joins the first group whose leader
        // it equals, or leads a new one.
        let mut leader_of = vec![usize::MAX; f as usize];
        let mut start = 0;
        for i in 1..=order.len() {
            if i < order.len() && projection[order[i]] - projection[order[i - 1]] <= reach {
                continue;
            }
            let mut run = order[start..i].to_vec();
            run.sort_unstable();
            let mut leaders: Vec<usize> = Vec::new();
            for j in run {
                leader_of[j] = match leaders.iter().find(|&&leader| equal(leader, j)) {
                    Some(&leader) => leader,
                    None => {
                        leaders.push(j);
                        j
                    }
                };
            }
            start = i;
        }
        // Groups numbered in the order of their leaders' columns.
        let mut group_index = vec![-1i64; f as usize];
        let (mut kept, mut group_of_kept, mut sizes) = (Vec::new(), Vec::new(), Vec::<f64>::new());
        for j in (0..f as usize).filter(|&j| live[j]) {
            let leader = leader_of[j];
            if leader == j {
                group_index[j] = sizes.len() as i64;
                sizes.push(0.0);
            }
            let group = group_index[leader];
            sizes[group as usize] += 1.0;
            kept.push(j as i64);
            group_of_kept.push(group);
        }
        let scale: Vec<f64> = sizes.iter().map(|k| 1.0 / k.sqrt()).collect();
        Self {
            features: f,
            groups: sizes.len() as i64,
            kept: Tensor::from_slice(&kept).to_device(device),
            group_of_kept: Tensor::from_slice(&group_of_kept).to_device(device),
            scale: Tensor::from_slice(&scale).to_device(device),
        }
    }

    /// Features in, features the probe solves on.
    pub fn counts(&self) -> (i64, i64) {
        (self.features, self.groups)
    }

    /// True when every column is a feature of its own: there is nothing to reduce.
    pub fn is_identity(&self) -> bool {
        self.groups == self.features
    }

    /// `[.., F]` → `[.., G]` along `dim` (0 for weights `[F, C]`, 1 for features `[N, F]`): each
    /// group's columns summed and scaled by 1/√k, the transpose of [`FeatureGroups::expand`].
    pub fn reduce(&self, values: &Tensor, dim: i64) -> Tensor {
        let mut shape = values.size();
        shape[dim as usize] = self.groups;
        let summed = Tensor::zeros(&shape, (values.kind(), values.device())).index_add(
            dim,
            &self.group_of_kept,
            &values.index_select(dim, &self.kept),
        );
        summed * self.scale_along(dim, shape.len())
    }

    /// Weights `[G, C]` over the groups → weights `[F, C]` over the columns: each member of a group
    /// gets the group's weight over √k, a left-out column 0.
    pub fn expand(&self, weight: &Tensor) -> Tensor {
        let per_column = (weight * self.scale_along(0, 2)).index_select(0, &self.group_of_kept);
        Tensor::zeros([self.features, weight.size()[1]], (weight.kind(), weight.device())).index_copy(
            0,
            &self.kept,
            &per_column,
        )
    }

    fn scale_along(&self, dim: i64, rank: usize) -> Tensor {
        let mut shape = vec![1i64; rank];
        shape[dim as usize] = self.groups;
        self.scale.view(shape.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::*;

    fn standardised(n: i64, f: i64, seed: i64) -> Tensor {
        tch::manual_seed(seed);
        Tensor::randn([n, f], (Kind::Double, Device::Cpu))
    }

    #[test]
    fn equal_columns_group_and_constant_ones_are_left_out() {
        let base = standardised(50, 4, 1);
        // Columns: 0, 1, copy of 0, zeros, 2, copy of 0 off by 1e-3 (not equal), copy of 2, 3.
        let zeros = Tensor::zeros([50, 1], (Kind::Double, Device::Cpu));
        let near = base.narrow(1, 0, 1) + 1e-3;
        let x = Tensor::cat(
            &[base.narrow(1, 0, 2), base.narrow(1, 0, 1), zeros, base.narrow(1, 2, 1), near, base.narrow(1, 2, 2)],
            1,
        );
        let groups = FeatureGroups::find(&x.tr().contiguous());
        assert_eq!(groups.counts(), (8, 5), "{{0, 2}}, {{1}}, {{4, 6}}, {{5}}, {{7}}; column 3 left out");
        // The reduced features are the columns' orthonormal coordinates: scores agree exactly for
        // any weights in the span, and norms are kept.
        let reduced = groups.reduce(&x, 1);
        let u = standardised(5, 3, 2);
        let w = groups.expand(&u);
        let gap = (x.matmul(&w) - reduced.matmul(&u)).abs().max().double_value(&[]);
        assert!(gap < 1e-12, "scores through both spaces differ by {gap}");
        let norm_gap = (w.square().sum(Kind::Double) - u.square().sum(Kind::Double)).abs().double_value(&[]);
        assert!(norm_gap < 1e-12, "the penalty differs by {norm_gap}");
        let back = (groups.reduce(&w, 0) - &u).abs().max().double_value(&[]);
        assert!(back < 1e-12, "reduce undoes expand: {back}");
    }

    #[test]
    fn distinct_columns_are_left_alone() {
        let x = standardised(40, 16, 3);
        let groups = FeatureGroups::find(&x.tr().contiguous());
        assert!(groups.is_identity(), "{:?}", groups.counts());
        let same = (groups.reduce(&x, 1) - &x).abs().max().double_value(&[]);
        assert_eq!(same, 0.0);
    }
}
