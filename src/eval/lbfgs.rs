//! A limited-memory BFGS minimiser for smooth convex objectives over one flat parameter vector,
//! with a backtracking (Armijo) line search. The linear probe's logistic regression is strictly
//! convex, so any descent method that converges reaches the same optimum; this one gets there in
//! a few hundred full-batch evaluations, where SGD needs 100 epochs.

use tch::Tensor;

/// Stopping rules and memory.
#[derive(Debug, Clone, Copy)]
pub struct LbfgsConfig {
    /// Correction pairs kept (the "limited memory").
    pub history: usize,
    /// Iterations at most.
    pub max_iterations: usize,
    /// Converged when the largest gradient component is at most this.
    pub gradient_tolerance: f64,
    /// Converged when an iteration lowers the objective by less than this (relative).
    pub relative_decrease: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self { history: 10, max_iterations: 1000, gradient_tolerance: 1e-7, relative_decrease: 1e-12 }
    }
}

/// Where the minimiser stopped.
#[derive(Debug)]
pub struct LbfgsResult {
    /// The minimiser's last point.
    pub x: Tensor,
    /// The objective there.
    pub value: f64,
    /// Iterations taken.
    pub iterations: usize,
}

/// Minimises `objective(x) -> (value, gradient)` from `x0`.
pub fn minimize(x0: Tensor, config: LbfgsConfig, mut objective: impl FnMut(&Tensor) -> (f64, Tensor)) -> LbfgsResult {
    let mut x = x0;
    let (mut value, mut gradient) = objective(&x);
    let mut pairs: Vec<(Tensor, Tensor, f64)> = Vec::new(); // (s, y, 1 / y·s)
    let mut iterations = 0;
    while iterations < config.max_iterations {
        if gradient.abs().max().double_value(&[]) <= config.gradient_tolerance {
            break;
        }
        iterations += 1;
        let mut direction = -two_loop(&gradient, &pairs);
        let mut slope = direction.dot(&gradient).double_value(&[]);
        if slope >= 0.0 {
            // The curvature pairs went stale (rounding): restart from steepest descent.
            pairs.clear();
            direction = -&gradient;
            slope = direction.dot(&gradient).double_value(&[]);
        }
        let mut step =
            if pairs.is_empty() { (1.0 / gradient.abs().sum(gradient.kind()).double_value(&[])).min(1.0) } else { 1.0 };
        let (next, next_value, next_gradient) = loop {
            let candidate = &x + &direction * step;
            let (candidate_value, candidate_gradient) = objective(&candidate);
            if candidate_value <= value + 1e-4 * step * slope || step < 1e-20 {
                break (candidate, candidate_value, candidate_gradient);
            }
            step *= 0.5;
        };
        let s = &next - &x;
        let y = &next_gradient - &gradient;
        let ys = y.dot(&s).double_value(&[]);
        if ys > 1e-12 {
            if pairs.len() == config.history {
                drop(pairs.remove(0));
            }
            pairs.push((s, y, 1.0 / ys));
        }
        let decrease = value - next_value;
        x = next;
        gradient = next_gradient;
        let previous = value;
        value = next_value;
        if decrease.abs() <= config.relative_decrease * previous.abs() {
            break;
        }
    }
    LbfgsResult { x, value, iterations }
}

/// The product of the inverse-Hessian approximation with `gradient` (Nocedal & Wright, Alg. 7.4).
/// `q = q - …` on purpose: tch's `-=` works in place and would overwrite `gradient`, which `q`
/// starts as.
#[allow(clippy::assign_op_pattern)]
fn two_loop(gradient: &Tensor, pairs: &[(Tensor, Tensor, f64)]) -> Tensor {
    let mut q = gradient.shallow_clone();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * s.dot(&q).double_value(&[]);
        q = q - y * alpha;
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.last() {
        q = q * (s.dot(y).double_value(&[]) / y.dot(y).double_value(&[]));
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.into_iter().rev()) {
        let beta = rho * y.dot(&q).double_value(&[]);
        q = q + s * (alpha - beta);
    }
    q
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        // f(x) = ½ Σ a_i (x_i - c_i)², condition number 100 (a standardised probe's order).
        let a = Tensor::logspace(0.0, 2.0, 20, 10.0, (Kind::Double, Device::Cpu));
        let c = Tensor::linspace(-3.0, 3.0, 20, (Kind::Double, Device::Cpu));
        let result = minimize(Tensor::zeros([20], (Kind::Double, Device::Cpu)), LbfgsConfig::default(), |x| {
            let r = x - &c;
            ((&a * &r * &r).sum(Kind::Double).double_value(&[]) / 2.0, &a * &r)
        });
        let error = (&result.x - &c).abs().max().double_value(&[]);
        assert!(error < 1e-6, "error {error} after {} iterations", result.iterations);
        assert!(result.iterations < 200, "{} iterations", result.iterations);
    }
}
