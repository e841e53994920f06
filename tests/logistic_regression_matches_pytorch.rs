//! The L-BFGS linear probe reaches the optimum PyTorch's own L-BFGS finds for the same objective
//! (mean cross-entropy + λ/2·‖W‖² on standardised features), at a strong and a weak penalty, on
//! overlapping classes where the optimum is interior.

mod support;

use lgd::eval::lbfgs::LbfgsConfig;
use lgd::eval::logistic_regression::LogisticRegression;
use lgd::tensor_io::{read_safetensors, write_safetensors};
use tch::{Device, Kind, Tensor};

#[test]
fn fit_matches_pytorch_lbfgs() {
    let dir = support::scratch("logistic-regression");
    tch::manual_seed(3);
    let classes = 5;
    let labels = Tensor::randint(classes, [400], (Kind::Int64, Device::Cpu));
    let centres = Tensor::randn([classes, 12], (Kind::Float, Device::Cpu));
    let features = centres.index_select(0, &labels) + Tensor::randn([400, 12], (Kind::Float, Device::Cpu)) * 1.5 + 4.0;
    for penalty in [1e-1, 1e-4] {
        let inputs = [
            ("features", &features),
            ("labels", &labels),
            ("penalty", &Tensor::from_slice(&[penalty])),
            ("classes", &Tensor::from_slice(&[classes])),
        ];
        write_safetensors(&dir.join("inputs.safetensors"), &inputs, &Default::default()).unwrap();
        support::run_oracle("logistic_regression_oracle.py", &[&dir]);
        let expected = read_safetensors(&dir.join("expected.safetensors")).unwrap().tensors;
        let model = LogisticRegression::fit(&features, &labels, classes, penalty, None, LbfgsConfig::default());
        let objective = expected["objective"].double_value(&[0]);
        let weight_diff = (&model.weight - &expected["weight"]).abs().max().double_value(&[]);
        let bias_diff = (&model.bias - &expected["bias"]).abs().max().double_value(&[]);
        println!(
            "λ {penalty:.0e}: objective lgd {:.12} PyTorch {objective:.12}; max |ΔW| {weight_diff:.1e}, |Δb| {bias_diff:.1e}; {} iterations",
            model.objective, model.iterations
        );
        assert!((model.objective - objective).abs() <= 1e-9 * objective.abs().max(1.0), "objective");
        assert!(weight_diff <= 1e-4 && bias_diff <= 1e-4, "parameters");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
