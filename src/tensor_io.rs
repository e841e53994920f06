//! Named tensors in safetensors files (banks now; weights and checkpoints later), read and written
//! with the `safetensors` crate so that files interoperate with Python's `safetensors` package.
//! Errors name the file and the tensor at fault.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, View};
use tch::{Device, Kind, Tensor};

use crate::atomic_file::write_atomically;

/// Why a tensor file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TensorIoError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file.
    #[error("{path}: not a valid safetensors file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A tensor's element type has no libtorch equivalent we handle.
    #[error("{path}: tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Its dtype as written in the file.
        dtype: String,
    },
}

type Result<T> = std::result::Result<T, TensorIoError>;

/// The tensors of one file (on the CPU) and its string metadata.
#[derive(Debug)]
pub struct TensorFile {
    /// Tensors by name, in name order.
    pub tensors: BTreeMap<String, Tensor>,
    /// The file's `__metadata__` map (empty when absent).
    pub metadata: HashMap<String, String>,
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::BOOL => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        _ => return None,
    })
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Bool => Dtype::BOOL,
        Kind::Uint8 => Dtype::U8,
        Kind::Int8 => Dtype::I8,
        Kind::Int16 => Dtype::I16,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        _ => return None,
    })
}

/// The parser's error as a user can act on it (the crate prints only the variant's name).
fn in_words(error: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::HeaderTooSmall => "shorter than the 8 bytes that give its header's length".into(),
        E::HeaderTooLarge | E::InvalidHeaderStart => "its first bytes are not a safetensors header".into(),
        E::InvalidHeaderLength => {
            "its header runs past the end of the file: truncated (an interrupted copy or download?)".into()
        }
        E::MetadataIncompleteBuffer => {
            "the tensors' data is shorter than its header says: truncated (an interrupted copy or download?)".into()
        }
        E::InvalidHeader | E::InvalidHeaderDeserialization => {
            "its header is not the JSON a safetensors file holds".into()
        }
        other => format!("{other:?}"),
    }
}

/// Reads every tensor of a safetensors file onto the CPU.
pub fn read_safetensors(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|source| TensorIoError::Io { path: path.into(), source })?;
    let format_error =
        |e: safetensors::SafeTensorError| TensorIoError::Format { path: path.into(), message: in_words(&e) };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(format_error)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes).map_err(format_error)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let kind = kind_of(view.dtype()).ok_or_else(|| TensorIoError::UnsupportedDtype {
            path: path.into(),
            name: name.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::from_data_size(view.data(), &shape, kind));
    }
    Ok(TensorFile { tensors, metadata })
}

/// A CPU, contiguous copy of a tensor's bytes, in the form the safetensors writer wants.
struct HostBytes {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &HostBytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes named tensors and metadata to `path` atomically (see [`write_atomically`]).
pub fn write_safetensors(path: &Path, tensors: &[(&str, &Tensor)], metadata: &HashMap<String, String>) -> Result<()> {
    let mut host = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let kind = tensor.kind();
        let dtype = dtype_of(kind).ok_or_else(|| TensorIoError::UnsupportedDtype {
            path: path.into(),
            name: (*name).to_owned(),
            dtype: format!("{kind:?}"),
        })?;
        let cpu = tensor.to_device(Device::Cpu).contiguous();
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * kind.elt_size_in_bytes()];
        cpu.copy_data_u8(&mut bytes, numel);
        let shape = cpu.size().iter().map(|&d| d as usize).collect();
        host.push(((*name).to_owned(), HostBytes { dtype, shape, bytes }));
    }
    let views = host.iter().map(|(name, data)| (name.as_str(), data));
    let info = (!metadata.is_empty()).then(|| metadata.clone());
    let serialized = safetensors::tensor::serialize(views, &info)
        .map_err(|e| TensorIoError::Format { path: path.into(), message: e.to_string() })?;
    write_atomically(path, &serialized).map_err(|source| TensorIoError::Io { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_kinds_and_metadata() {
        let path = std::env::temp_dir().join(format!("lgd-tensor-io-{}.safetensors", std::process::id()));
        let a = Tensor::randn([3, 5], (Kind::Float, Device::Cpu));
        let b = Tensor::from_slice(&[true, false, true]);
        let c = Tensor::randn([2, 2], (Kind::Float, Device::Cpu)).to_kind(Kind::BFloat16);
        let metadata = HashMap::from([("lgd.kind".to_owned(), "test".to_owned())]);
        write_safetensors(&path, &[("a", &a), ("seen", &b), ("c", &c)], &metadata).unwrap();
        let file = read_safetensors(&path).unwrap();
        assert!(file.tensors["a"].equal(&a));
        assert!(file.tensors["seen"].equal(&b));
        assert_eq!(file.tensors["c"].kind(), Kind::BFloat16);
        assert!(file.tensors["c"].equal(&c));
        assert_eq!(file.metadata, metadata);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn garbage_is_a_format_error_naming_the_file() {
        let path = std::env::temp_dir().join(format!("lgd-garbage-{}.safetensors", std::process::id()));
        std::fs::write(&path, b"definitely not safetensors").unwrap();
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()) && err.contains("not a valid"), "{err}");
        assert!(err.ends_with("its first bytes are not a safetensors header"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_truncated_file_is_called_truncated() {
        let path = std::env::temp_dir().join(format!("lgd-truncated-{}.safetensors", std::process::id()));
        write_safetensors(&path, &[("a", &Tensor::zeros([64, 64], (Kind::Float, Device::Cpu)))], &HashMap::new())
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for (keep, expected) in [
            (bytes.len() - 100, "the tensors' data is shorter than its header says: truncated"),
            (20, "its header runs past the end of the file: truncated"),
            (5, "shorter than the 8 bytes"),
        ] {
            std::fs::write(&path, &bytes[..keep]).unwrap();
            let err = read_safetensors(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{keep} bytes: {err}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
