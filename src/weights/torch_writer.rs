//! Writing files that `torch.load` reads (also with `weights_only=True`): the zip format of
//! `torch.save` — `archive/data.pkl` (protocol 2) with one stored member per tensor storage,
//! `archive/version` and `archive/byteorder`. Only what state dicts need: nested string-keyed
//! dicts of contiguous tensors.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::atomic_file::write_atomically;

/// A value to save: a tensor or a dict of values.
#[derive(Debug)]
pub enum SaveValue<'a> {
    /// Saved as a CPU tensor.
    Tensor(&'a Tensor),
    /// Saved as a plain dict (which `torch.load` returns as a dict).
    Dict(BTreeMap<String, SaveValue<'a>>),
}

/// Why a torch file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TorchWriteError {
    /// A tensor's element type has no torch storage class here.
    #[error("tensor `{name}` has unsupported dtype {kind:?}")]
    UnsupportedKind {
        /// The tensor's key.
        name: String,
        /// Its kind.
        kind: Kind,
    },
    /// Building the archive or writing the file failed.
    #[error("{path}: {message}")]
    Write {
        /// The output file.
        path: String,
        /// What failed.
        message: String,
    },
}

fn storage_class(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Float => "FloatStorage",
        Kind::Double => "DoubleStorage",
        Kind::Half => "HalfStorage",
        Kind::BFloat16 => "BFloat16Storage",
        Kind::Int64 => "LongStorage",
        Kind::Int => "IntStorage",
        Kind::Int16 => "ShortStorage",
        Kind::Int8 => "CharStorage",
        Kind::Uint8 => "ByteStorage",
        Kind::Bool => "BoolStorage",
        _ => return None,
    })
}

/// Protocol-2 pickle opcodes emitted by [`Pickler`].
struct Pickler {
    out: Vec<u8>,
    storages: Vec<Vec<u8>>,
}

impl Pickler {
    fn string(&mut self, text: &str) {
        self.out.push(b'X');
        self.out.extend((text.len() as u32).to_le_bytes());
        self.out.extend(text.as_bytes());
    }

    fn int(&mut self, value: i64) {
        match i32::try_from(value) {
            Ok(small) => {
                self.out.push(b'J');
                self.out.extend(small.to_le_bytes());
            }
            Err(_) => {
                self.out.extend([0x8a, 8]);
                self.out.extend(value.to_le_bytes());
            }
        }
    }

    fn tuple_of_ints(&mut self, values: &[i64]) {
        self.out.push(b'(');
        for &value in values {
            self.int(value);
        }
        self.out.push(b't');
    }

    fn global(&mut self, module: &str, name: &str) {
        self.out.push(b'c');
        self.out.extend(format!("{module}\n{name}\n").as_bytes());
    }

    fn value(&mut self, name: &str, value: &SaveValue) -> Result<(), TorchWriteError> {
        match value {
            SaveValue::Dict(entries) => {
                self.out.push(b'}');
                if !entries.is_empty() {
                    self.out.push(b'(');
                    for (key, value) in entries {
                        self.string(key);
                        self.value(key, value)?;
                    }
                    self.out.push(b'u');
                }
            }
            SaveValue::Tensor(tensor) => self.tensor(name, tensor)?,
        }
        Ok(())
    }

    /// `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`.
    fn tensor(&mut self, name: &str, tensor: &Tensor) -> Result<(), TorchWriteError> {
        let kind = tensor.kind();
        let class = storage_class(kind).ok_or_else(|| TorchWriteError::UnsupportedKind { name: name.into(), kind })?;
        let cpu = tensor.detach().to_device(Device::Cpu).contiguous();
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * kind.elt_size_in_bytes()];
        cpu.copy_data_u8(&mut bytes, numel);
        let key = self.storages.len().to_string();
        self.storages.push(bytes);

        self.global("torch._utils", "_rebuild_tensor_v2");
        self.out.push(b'(');
        // Persistent id: ('storage', torch.<Class>, key, 'cpu', numel).
        self.out.push(b'(');
        self.string("storage");
        self.global("torch", class);
        self.string(&key);
        self.string("cpu");
        self.int(numel as i64);
        self.out.push(b't');
        self.out.push(b'Q');
        self.int(0);
        self.tuple_of_ints(&cpu.size());
        self.tuple_of_ints(&cpu.stride());
        self.out.push(0x89); // requires_grad = False
        self.global("collections", "OrderedDict");
        self.out.push(b')');
        self.out.push(b'R');
        self.out.push(b't');
        self.out.push(b'R');
        Ok(())
    }
}

/// Writes `value` to `path` in torch.save's zip format, atomically.
pub fn write_torch_file(path: &Path, value: &SaveValue) -> Result<(), TorchWriteError> {
    let write_error = |message: String| TorchWriteError::Write { path: path.display().to_string(), message };
    let mut pickler = Pickler { out: vec![0x80, 2], storages: Vec::new() };
    pickler.value("", value)?;
    pickler.out.push(b'.');

    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut member = |name: &str, bytes: &[u8]| -> Result<(), TorchWriteError> {
        archive.start_file(format!("archive/{name}"), stored).map_err(|e| write_error(e.to_string()))?;
        archive.write_all(bytes).map_err(|e| write_error(e.to_string()))
    };
    member("data.pkl", &pickler.out)?;
    member("byteorder", b"little")?;
    for (index, bytes) in pickler.storages.iter().enumerate() {
        member(&format!("data/{index}"), bytes)?;
    }
    member("version", b"3\n")?;
    let bytes = archive.finish().map_err(|e| write_error(e.to_string()))?.into_inner();
    write_atomically(path, &bytes).map_err(|e| write_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::torch_file::{read_torch_file, TorchObject};

    #[test]
    fn written_files_read_back_in_rust() {
        let path = std::env::temp_dir().join(format!("lgd-torch-writer-{}.pth", std::process::id()));
        let weight = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
        let count = Tensor::from(7i64);
        let inner =
            BTreeMap::from([("w".to_owned(), SaveValue::Tensor(&weight)), ("n".to_owned(), SaveValue::Tensor(&count))]);
        let value = SaveValue::Dict(BTreeMap::from([("state_dict".to_owned(), SaveValue::Dict(inner))]));
        write_torch_file(&path, &value).unwrap();
        let TorchObject::Map(mut outer) = read_torch_file(&path).unwrap() else { panic!("a dict") };
        let Some(TorchObject::Map(inner)) = outer.remove("state_dict") else { panic!("state_dict") };
        let TorchObject::Tensor(w) = &inner["w"] else { panic!("w") };
        assert!(w.equal(&weight));
        let TorchObject::Tensor(n) = &inner["n"] else { panic!("n") };
        assert_eq!((n.kind(), n.int64_value(&[])), (Kind::Int64, 7));
        std::fs::remove_file(&path).unwrap();
    }
}
