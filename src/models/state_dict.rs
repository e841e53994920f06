//! Moving named tensors in and out of a model's VarStore. Because our struct paths are
//! torchvision's key paths, loading is a walk over names: every variable must find its tensor, with
//! the same shape; anything else is reported — missing, unexpected and mis-shaped, first few of each.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tch::nn::VarStore;
use tch::Tensor;

/// How many names of each kind an error lists.
const LISTED: usize = 5;

/// The tensors that did not fit, and why.
#[derive(Debug, thiserror::Error)]
#[error("{origin} does not fit {model}: {}", describe(self))]
pub struct StateDictError {
    /// The file (or description) the tensors came from.
    pub origin: String,
    /// What they were loaded into.
    pub model: String,
    /// Model variables with no tensor.
    pub missing: Vec<String>,
    /// Tensors no variable asked for.
    pub unexpected: Vec<String>,
    /// (name, shape in the file, shape in the model).
    pub mis_shaped: Vec<(String, Vec<i64>, Vec<i64>)>,
}

fn describe(error: &StateDictError) -> String {
    let mut text = String::new();
    let mut section = |count: usize, what: &str, names: Vec<String>| {
        if count == 0 {
            return;
        }
        if !text.is_empty() {
            text.push_str("; ");
        }
        let more = if count > LISTED { format!(", … {} more", count - LISTED) } else { String::new() };
        let _ = write!(text, "{count} {what} ({}{more})", names.join(", "));
    };
    section(error.missing.len(), "missing", error.missing.iter().take(LISTED).cloned().collect());
    section(error.unexpected.len(), "unexpected", error.unexpected.iter().take(LISTED).cloned().collect());
    section(
        error.mis_shaped.len(),
        "mis-shaped",
        error
            .mis_shaped
            .iter()
            .take(LISTED)
            .map(|(n, file, model)| format!("{n}: file {file:?} vs model {model:?}"))
            .collect(),
    );
    text
}

/// Copies `tensors` into the variables of `vars` (converting dtype and device). Nothing is copied
/// unless everything fits; `ignore` filters tensor names that may be present without a variable.
pub fn load_state_dict(
    vars: &VarStore,
    tensors: &BTreeMap<String, Tensor>,
    origin: &str,
    model: &str,
    ignore: impl Fn(&str) -> bool,
) -> Result<(), StateDictError> {
    let variables = vars.variables();
    let mut missing: Vec<String> = Vec::new();
    let mut mis_shaped = Vec::new();
    for (name, variable) in &variables {
        match tensors.get(name) {
            None => missing.push(name.clone()),
            Some(tensor) if tensor.size() != variable.size() => {
                mis_shaped.push((name.clone(), tensor.size(), variable.size()))
            }
            Some(_) => {}
        }
    }
    let unexpected: Vec<String> =
        tensors.keys().filter(|name| !variables.contains_key(*name) && !ignore(name)).cloned().collect();
    missing.sort();
    mis_shaped.sort();
    if !missing.is_empty() || !unexpected.is_empty() || !mis_shaped.is_empty() {
        return Err(StateDictError { origin: origin.into(), model: model.into(), missing, unexpected, mis_shaped });
    }
    tch::no_grad(|| {
        for (name, variable) in &variables {
            let mut variable = variable.shallow_clone();
            let source = tensors[name].to_kind(variable.kind()).to_device(variable.device());
            variable.copy_(&source);
        }
    });
    Ok(())
}

/// Every variable of `vars` by name, on the CPU (a state dict in torchvision's naming).
pub fn state_dict(vars: &VarStore) -> BTreeMap<String, Tensor> {
    vars.variables().into_iter().map(|(name, tensor)| (name, tensor.detach().to_device(tch::Device::Cpu))).collect()
}

#[cfg(test)]
mod tests {
    use tch::nn::Init;
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn mismatches_are_listed_and_nothing_is_copied() {
        let vs = VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[2], Init::Const(0.0));
        let _ = vs.root().var("b", &[3], Init::Const(0.0));
        let _ = vs.root().var("c", &[4], Init::Const(0.0));
        let tensors = BTreeMap::from([
            ("a".to_owned(), Tensor::ones([2], (Kind::Float, Device::Cpu))),
            ("c".to_owned(), Tensor::ones([5], (Kind::Float, Device::Cpu))),
            ("extra".to_owned(), Tensor::ones([1], (Kind::Float, Device::Cpu))),
        ]);
        let err = load_state_dict(&vs, &tensors, "w.pth", "toy", |_| false).unwrap_err().to_string();
        assert_eq!(
            err,
            "w.pth does not fit toy: 1 missing (b); 1 unexpected (extra); 1 mis-shaped (c: file [5] vs model [4])"
        );
        assert_eq!(a.sum(Kind::Float).double_value(&[]), 0.0, "nothing copied on error");
    }
}
