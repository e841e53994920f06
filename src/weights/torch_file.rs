//! Files written by `torch.save`: the zip format (PyTorch ≥ 1.6: `<name>/data.pkl` plus one
//! uncompressed member per storage) and the legacy format (a run of pickles — magic number,
//! protocol, system info, the object, the storage keys — followed by the raw storages). Read in
//! Rust: tensors are rebuilt from `torch._utils._rebuild_tensor_v2` calls; nothing is executed.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use super::pickle::{self, Value};

/// The object a torch file holds, with tensors materialised and every other leaf dropped.
#[derive(Debug)]
pub enum TorchObject {
    /// A tensor (or an `nn.Parameter`'s data).
    Tensor(Tensor),
    /// A dict with string keys.
    Map(BTreeMap<String, TorchObject>),
    /// Anything else (numbers, strings, optimiser state lists, …).
    Other,
}

/// Why a torch file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TorchFileError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The zip container is broken.
    #[error("{path}: not a readable torch.save zip archive: {message}")]
    Zip {
        /// The file.
        path: PathBuf,
        /// What the zip reader said.
        message: String,
    },
    /// A pickle inside the file is broken.
    #[error("{path}: {source}")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// The pickle error.
        source: pickle::PickleError,
    },
    /// The structure is not what torch.save writes.
    #[error("{path}: {message}")]
    Layout {
        /// The file.
        path: PathBuf,
        /// What was unexpected.
        message: String,
    },
}

/// A storage reference from a persistent id: its key, element type and element count.
struct StorageRef {
    key: String,
    kind: Kind,
    numel: i64,
}

fn storage_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "FloatStorage" => Kind::Float,
        "DoubleStorage" => Kind::Double,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        _ => return None,
    })
}

fn storage_ref(id: &Value) -> Option<StorageRef> {
    let Value::Tuple(fields) = id else { return None };
    match fields.as_slice() {
        [Value::Str(tag), Value::Global(module, name), Value::Str(key), _location, Value::Int(numel), ..]
            if tag == "storage" && module == "torch" =>
        {
            Some(StorageRef { key: key.clone(), kind: storage_kind(name)?, numel: *numel })
        }
        _ => None,
    }
}

fn int_list(value: &Value) -> Option<Vec<i64>> {
    match value {
        Value::Tuple(items) | Value::List(items) => {
            items.iter().map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect()
        }
        _ => None,
    }
}

/// Turns the decoded pickle into tensors, fetching storages by key through `storage`.
struct Builder<'a> {
    path: &'a Path,
    storage: &'a dyn Fn(&StorageRef) -> Result<Tensor, TorchFileError>,
    cache: HashMap<String, Tensor>,
}

impl Builder<'_> {
    fn layout(&self, message: String) -> TorchFileError {
        TorchFileError::Layout { path: self.path.into(), message }
    }

    fn build(&mut self, value: &Value) -> Result<TorchObject, TorchFileError> {
        match value {
            Value::Dict(entries) => {
                let mut map = BTreeMap::new();
                for (key, value) in entries {
                    let key = match key {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        _ => continue,
                    };
                    map.insert(key, self.build(value)?);
                }
                Ok(TorchObject::Map(map))
            }
            Value::Call(callable, args) => match (callable.as_ref(), args.as_ref()) {
                (Value::Global(module, name), Value::Tuple(args)) if module == "torch._utils" => match name.as_str() {
                    "_rebuild_tensor_v2" | "_rebuild_tensor" => self.rebuild_tensor(args),
                    "_rebuild_parameter" | "_rebuild_parameter_with_state" => match args.first() {
                        Some(data) => self.build(data),
                        None => Err(self.layout("_rebuild_parameter without data".into())),
                    },
                    _ => Ok(TorchObject::Other),
                },
                _ => Ok(TorchObject::Other),
            },
            _ => Ok(TorchObject::Other),
        }
    }

    fn rebuild_tensor(&mut self, args: &[Value]) -> Result<TorchObject, TorchFileError> {
        let (Some(Value::PersistentId(id)), Some(Value::Int(offset)), Some(size), Some(stride)) =
            (args.first(), args.get(1), args.get(2).and_then(int_list), args.get(3).and_then(int_list))
        else {
            return Err(self.layout(format!("unexpected _rebuild_tensor_v2 arguments: {args:?}")));
        };
        let storage = storage_ref(id).ok_or_else(|| self.layout(format!("unsupported storage reference {id:?}")))?;
        if !self.cache.contains_key(&storage.key) {
            let flat = (self.storage)(&storage)?;
            self.cache.insert(storage.key.clone(), flat);
        }
        let flat = &self.cache[&storage.key];
        let extent: i64 = size.iter().zip(&stride).map(|(n, s)| (n - 1).max(0) * s).sum::<i64>() + 1;
        if size.iter().all(|&n| n > 0) && offset + extent > storage.numel {
            return Err(self.layout(format!(
                "tensor of size {size:?} at offset {offset} overruns storage {} of {} elements",
                storage.key, storage.numel
            )));
        }
        Ok(TorchObject::Tensor(flat.as_strided(&size, &stride, *offset).contiguous()))
    }
}

fn flat_tensor(bytes: &[u8], reference: &StorageRef, path: &Path) -> Result<Tensor, TorchFileError> {
    let expected = reference.numel as usize * reference.kind.elt_size_in_bytes();
    if bytes.len() < expected {
        return Err(TorchFileError::Layout {
            path: path.into(),
            message: format!(
                "storage {} has {} bytes, {} expected (truncated file?)",
                reference.key,
                bytes.len(),
                expected
            ),
        });
    }
    Ok(Tensor::from_data_size(&bytes[..expected], &[reference.numel], reference.kind))
}

/// Reads a `torch.save` file (zip or legacy format).
pub fn read_torch_file(path: &Path) -> Result<TorchObject, TorchFileError> {
    let bytes = std::fs::read(path).map_err(|source| TorchFileError::Io { path: path.into(), source })?;
    if bytes.is_empty() {
        return Err(TorchFileError::Layout { path: path.into(), message: "empty file".into() });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        read_zip(path, &bytes)
    } else {
        read_legacy(path, &bytes)
    }
}

fn read_zip(path: &Path, bytes: &[u8]) -> Result<TorchObject, TorchFileError> {
    let zip_error = |e: zip::result::ZipError| TorchFileError::Zip { path: path.into(), message: e.to_string() };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_error)?;
    let data_pkl = archive
        .file_names()
        .find(|name| name.ends_with("/data.pkl") || *name == "data.pkl")
        .map(str::to_owned)
        .ok_or_else(|| TorchFileError::Layout { path: path.into(), message: "zip archive without data.pkl".into() })?;
    let prefix = data_pkl.strip_suffix("data.pkl").unwrap_or_default().to_owned();
    let mut pickled = Vec::new();
    archive
        .by_name(&data_pkl)
        .map_err(zip_error)?
        .read_to_end(&mut pickled)
        .map_err(|source| TorchFileError::Io { path: path.into(), source })?;
    let (value, _) = pickle::load(&pickled).map_err(|source| TorchFileError::Pickle { path: path.into(), source })?;
    let archive = std::cell::RefCell::new(archive);
    let storage = |reference: &StorageRef| {
        let mut data = Vec::new();
        let member = format!("{prefix}data/{}", reference.key);
        let mut archive = archive.borrow_mut();
        let mut file = archive.by_name(&member).map_err(zip_error)?;
        file.read_to_end(&mut data).map_err(|source| TorchFileError::Io { path: path.into(), source })?;
        flat_tensor(&data, reference, path)
    };
    Builder { path, storage: &storage, cache: HashMap::new() }.build(&value)
}

fn read_legacy(path: &Path, bytes: &[u8]) -> Result<TorchObject, TorchFileError> {
    let pickle_error = |source| TorchFileError::Pickle { path: path.into(), source };
    let layout = |message: &str| TorchFileError::Layout { path: path.into(), message: message.into() };
    let mut position = 0;
    let next = |position: &mut usize| -> Result<Value, TorchFileError> {
        let (value, used) = pickle::load(&bytes[*position..]).map_err(pickle_error)?;
        *position += used;
        Ok(value)
    };
    const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
    match next(&mut position) {
        Ok(Value::BigInt(magic)) if magic == MAGIC => {}
        _ => return Err(layout("neither a torch.save zip archive nor a legacy torch file (bad magic number)")),
    }
    if next(&mut position)? != Value::Int(1001) {
        return Err(layout("unsupported legacy torch protocol version"));
    }
    let _system_info = next(&mut position)?;
    let object = next(&mut position)?;
    let Value::List(keys) = next(&mut position)? else { return Err(layout("missing the storage key list")) };

    // The storages follow in key order, each an int64 element count and the raw elements.
    let mut offsets: HashMap<String, usize> = HashMap::new();
    let mut cursor = position;
    let references = collect_storage_refs(&object);
    for key in keys {
        let Value::Str(key) = key else { return Err(layout("non-string storage key")) };
        let reference = references.get(&key).ok_or_else(|| layout("a storage key no tensor refers to"))?;
        let count = bytes.get(cursor..cursor + 8).ok_or_else(|| layout("truncated storage header"))?;
        let count = i64::from_le_bytes(count.try_into().expect("8 bytes"));
        offsets.insert(key.clone(), cursor + 8);
        cursor += 8 + count as usize * reference.elt_size;
    }
    let storage = |reference: &StorageRef| {
        let start = *offsets.get(&reference.key).ok_or_else(|| layout("a tensor refers to an unsaved storage"))?;
        flat_tensor(bytes.get(start..).unwrap_or_default(), reference, path)
    };
    Builder { path, storage: &storage, cache: HashMap::new() }.build(&object)
}

/// Element sizes of every storage a legacy object refers to, by key.
struct StorageInfo {
    elt_size: usize,
}

fn collect_storage_refs(value: &Value) -> HashMap<String, StorageInfo> {
    let mut found = HashMap::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::PersistentId(id) => {
                if let Some(reference) = storage_ref(id) {
                    found.insert(reference.key, StorageInfo { elt_size: reference.kind.elt_size_in_bytes() });
                }
            }
            Value::Tuple(items) | Value::List(items) => stack.extend(items),
            Value::Dict(entries) => stack.extend(entries.iter().flat_map(|(k, v)| [k, v])),
            Value::Call(callable, args) => stack.extend([callable.as_ref(), args.as_ref()]),
            _ => {}
        }
    }
    found
}
