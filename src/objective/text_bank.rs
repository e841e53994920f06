//! The textual semantics bank T (D×C): one unit column per category, the normalised mean of the
//! normalised text embeddings of that category's prompts. Fixed for a run.

use std::collections::HashMap;
use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::loss::normalize_rows;
use super::BankError;
use crate::tensor_io::{read_safetensors, write_safetensors};

/// Name of the bank tensor inside a text-bank file.
const TENSOR_NAME: &str = "text_bank";
/// Largest accepted deviation of a column's norm from 1 (fp16-saved banks pass).
const NORM_TOLERANCE: f64 = 1e-2;

/// T, `[D, C]` float32: column c is the text embedding of category c.
#[derive(Debug)]
pub struct TextBank {
    columns: Tensor,
}

impl TextBank {
    /// Wraps an existing `[D, C]` tensor (converted to float32).
    pub fn new(columns: Tensor) -> Result<Self, BankError> {
        if columns.dim() != 2 || !columns.is_floating_point() {
            return Err(BankError::Shape {
                what: "text bank".into(),
                expected: "a 2-D [embedding width, classes] float tensor".into(),
                shape: columns.size(),
                kind: format!("{:?}", columns.kind()),
            });
        }
        Ok(Self { columns: columns.to_kind(Kind::Float) })
    }

    /// A bank of random unit columns `[dim, classes]` (benchmarks: the step's cost does not depend
    /// on what T holds). Draws from libtorch's global generator.
    pub fn random(dim: i64, classes: i64, device: Device) -> Self {
        let columns = normalize_rows(&Tensor::randn([classes, dim], (Kind::Float, device))).tr().contiguous();
        Self { columns }
    }

    /// Builds T from prompt embeddings `[C, K, D]` (K templates per class): each embedding is
    /// normalised, averaged over the templates, and the mean normalised again.
    pub fn from_prompt_embeddings(embeddings: &Tensor) -> Result<Self, BankError> {
        let size = embeddings.size();
        if size.len() != 3 {
            return Err(BankError::Shape {
                what: "prompt embeddings".into(),
                expected: "[classes, templates, embedding width]".into(),
                shape: size,
                kind: format!("{:?}", embeddings.kind()),
            });
        }
        let (classes, templates, width) = (size[0], size[1], size[2]);
        let unit = normalize_rows(&embeddings.to_kind(Kind::Float).reshape([classes * templates, width]));
        let mean = unit.reshape([classes, templates, width]).mean_dim(1, false, Kind::Float); // [C, D]
        Self::new(normalize_rows(&mean).tr().contiguous())
    }

    /// Loads a bank written by [`TextBank::save`] (or any safetensors file with a `text_bank`
    /// tensor of shape `[D, C]`), checking unit columns and, if given, the number of classes.
    pub fn load(path: &Path, expected_classes: Option<usize>) -> Result<Self, BankError> {
        let mut file = read_safetensors(path)?;
        let columns = file.tensors.remove(TENSOR_NAME).ok_or_else(|| BankError::MissingTensor {
            path: path.into(),
            name: TENSOR_NAME,
            found: file.tensors.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        let bank = Self::new(columns).map_err(|e| match e {
            BankError::Shape { expected, shape, kind, .. } => {
                BankError::Shape { what: format!("{}: `{TENSOR_NAME}`", path.display()), expected, shape, kind }
            }
            other => other,
        })?;
        if let Some(names) = expected_classes {
            if bank.classes() != names as i64 {
                return Err(BankError::ClassCount { path: path.into(), bank: bank.classes(), names });
            }
        }
        let norms = bank.columns.norm_scalaropt_dim(2, [0], false); // [C]
        let deviation = (&norms - 1.0).abs();
        let worst = deviation.argmax(0, false).int64_value(&[]);
        if deviation.double_value(&[worst]) > NORM_TOLERANCE {
            return Err(BankError::NotNormalised {
                path: path.into(),
                column: worst,
                norm: norms.double_value(&[worst]),
            });
        }
        Ok(bank)
    }

    /// Writes the bank atomically, with `metadata` (e.g. the cache key it was computed for).
    pub fn save(&self, path: &Path, metadata: &HashMap<String, String>) -> Result<(), BankError> {
        let mut metadata = metadata.clone();
        metadata.insert("lgd.kind".into(), "text_bank".into());
        metadata.insert("lgd.classes".into(), self.classes().to_string());
        write_safetensors(path, &[(TENSOR_NAME, &self.columns)], &metadata)?;
        Ok(())
    }

    /// The bank, `[D, C]` float32.
    pub fn tensor(&self) -> &Tensor {
        &self.columns
    }

    /// Embedding width D.
    pub fn dim(&self) -> i64 {
        self.columns.size()[0]
    }

    /// Number of categories C.
    pub fn classes(&self) -> i64 {
        self.columns.size()[1]
    }

    /// The same bank on another device.
    pub fn to_device(&self, device: Device) -> Self {
        Self { columns: self.columns.to_device(device) }
    }

    /// The class each normalised key `[N, D]` is closest to: argmax over c of key·T[:, c]. `[N]` int64.
    pub fn assign(&self, keys: &Tensor) -> Tensor {
        keys.matmul(&self.columns).argmax(1, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_embeddings_average_to_unit_columns() {
        let e = Tensor::randn([5, 3, 8], (Kind::Float, Device::Cpu)); // [C, K, D]
        let bank = TextBank::from_prompt_embeddings(&e).unwrap();
        assert_eq!(bank.tensor().size(), vec![8, 5]);
        let norms = bank.tensor().norm_scalaropt_dim(2, [0], false);
        assert!(norms.allclose(&Tensor::ones([5], (Kind::Float, Device::Cpu)), 1e-6, 1e-6, false));
        // Column 2 by hand: normalise each prompt, average, normalise.
        let c2 = e.get(2);
        let unit = &c2 / c2.norm_scalaropt_dim(2, [1], true);
        let mean = unit.mean_dim(0, false, Kind::Float);
        let expected = &mean / mean.norm();
        assert!(bank.tensor().select(1, 2).allclose(&expected, 1e-6, 1e-6, false));
    }

    #[test]
    fn load_checks_classes_and_normalisation() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("lgd-tsb-{}.safetensors", std::process::id()));
        let bank = TextBank::from_prompt_embeddings(&Tensor::randn([4, 2, 6], (Kind::Float, Device::Cpu))).unwrap();
        bank.save(&path, &HashMap::new()).unwrap();
        let loaded = TextBank::load(&path, Some(4)).unwrap();
        assert!(loaded.tensor().equal(bank.tensor()));
        let err = TextBank::load(&path, Some(10)).unwrap_err().to_string();
        assert!(err.ends_with("the bank has 4 classes but the class-name list has 10"), "{err}");

        let unnormalised = Tensor::ones([6, 4], (Kind::Float, Device::Cpu));
        write_safetensors(&path, &[("text_bank", &unnormalised)], &HashMap::new()).unwrap();
        let err = TextBank::load(&path, None).unwrap_err().to_string();
        assert!(err.contains("column 0 has L2 norm 2.4495"), "{err}");

        write_safetensors(&path, &[("weights", &unnormalised)], &HashMap::new()).unwrap();
        let err = TextBank::load(&path, None).unwrap_err().to_string();
        assert!(err.contains("no tensor named `text_bank` (found: weights)"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
