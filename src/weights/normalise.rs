//! From whatever a user's checkpoint holds to a flat state dict in our (torchvision) naming:
//! unwrap `{"state_dict": …}` / `{"model": …}`, strip DDP's `module.` prefix, and from an LGD/SEED
//! training checkpoint keep the `student.` weights (the teacher and queues are not the student's).

use std::collections::BTreeMap;

use tch::Tensor;

use super::torch_file::TorchObject;

/// Keys under which training scripts wrap the state dict, tried in order.
const WRAPPERS: [&str; 3] = ["state_dict", "model", "student"];

/// What normalisation did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Normalisation {
    /// The wrapper key that was unwrapped, if any.
    pub unwrapped: Option<&'static str>,
    /// Whether a `module.` prefix was stripped.
    pub stripped_module: bool,
    /// Whether only `student.` keys were kept; how many other tensors were set aside.
    pub kept_student: Option<usize>,
}

/// Finds the state dict inside a loaded torch object; `None` when it holds no tensor map.
pub fn find_state_dict(object: TorchObject) -> Option<(BTreeMap<String, Tensor>, Option<&'static str>)> {
    let TorchObject::Map(mut map) = object else { return None };
    for wrapper in WRAPPERS {
        if let Some(TorchObject::Map(inner)) = map.remove(wrapper) {
            if inner.values().any(|v| matches!(v, TorchObject::Tensor(_))) {
                return Some((tensors_of(inner), Some(wrapper)));
            }
        }
    }
    map.values().any(|v| matches!(v, TorchObject::Tensor(_))).then(|| (tensors_of(map), None))
}

fn tensors_of(map: BTreeMap<String, TorchObject>) -> BTreeMap<String, Tensor> {
    map.into_iter()
        .filter_map(|(key, value)| match value {
            TorchObject::Tensor(tensor) => Some((key, tensor)),
            _ => None,
        })
        .collect()
}

/// Strips `module.` (everywhere it leads) and keeps only `student.` keys when there are any.
pub fn normalise_keys(tensors: BTreeMap<String, Tensor>) -> (BTreeMap<String, Tensor>, Normalisation) {
    let mut report = Normalisation::default();
    let mut tensors: BTreeMap<String, Tensor> = tensors
        .into_iter()
        .map(|(key, tensor)| match key.strip_prefix("module.") {
            Some(rest) => {
                report.stripped_module = true;
                (rest.to_owned(), tensor)
            }
            None => (key, tensor),
        })
        .collect();
    if tensors.keys().any(|k| k.starts_with("student.")) {
        let total = tensors.len();
        tensors = tensors
            .into_iter()
            .filter_map(|(key, tensor)| key.strip_prefix("student.").map(|rest| (rest.to_owned(), tensor)))
            .collect();
        report.kept_student = Some(total - tensors.len());
    }
    (tensors, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar() -> Tensor {
        Tensor::from(1.0f32)
    }

    #[test]
    fn lgd_checkpoints_keep_the_student_without_prefixes() {
        let keys =
            ["module.student.conv1.weight", "module.student.fc.0.bias", "module.teacher.conv1.weight", "module.queue"];
        let tensors = keys.iter().map(|k| (k.to_string(), scalar())).collect();
        let (tensors, report) = normalise_keys(tensors);
        assert_eq!(tensors.keys().collect::<Vec<_>>(), ["conv1.weight", "fc.0.bias"]);
        assert_eq!(report, Normalisation { unwrapped: None, stripped_module: true, kept_student: Some(2) });
    }

    #[test]
    fn wrappers_are_unwrapped_in_order() {
        let inner = BTreeMap::from([("conv1.weight".to_owned(), TorchObject::Tensor(scalar()))]);
        let outer = BTreeMap::from([
            ("epoch".to_owned(), TorchObject::Other),
            ("state_dict".to_owned(), TorchObject::Map(inner)),
        ]);
        let (tensors, wrapper) = find_state_dict(TorchObject::Map(outer)).unwrap();
        assert_eq!(wrapper, Some("state_dict"));
        assert!(tensors.contains_key("conv1.weight"));
        assert!(find_state_dict(TorchObject::Other).is_none());
    }
}
