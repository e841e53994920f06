//! A small pickle virtual machine: enough of protocols 2–5 to read what `torch.save` writes
//! (nested dicts, lists, tuples, numbers, strings, globals, reductions and persistent ids), without
//! executing anything. Unknown callables stay as inert `Call` values; tensor rebuilding happens in
//! `torch_file.rs`, which knows what `torch._utils._rebuild_tensor_v2` means.

use std::collections::HashMap;

/// A decoded pickle value. Objects are values, not shared references (state dicts need no more).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A wider integer, as its little-endian two's-complement bytes (torch's legacy magic number).
    BigInt(Vec<u8>),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// bytes.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict (or OrderedDict), in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A reference to `module.name`.
    Global(String, String),
    /// `callable(*args)`, not executed.
    Call(Box<Value>, Box<Value>),
    /// What the persistent-id hook was given (torch: a storage reference).
    PersistentId(Box<Value>),
}

/// Why a pickle stream could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    /// The stream ended inside an opcode.
    #[error("truncated pickle at byte {0}")]
    Truncated(usize),
    /// An opcode this reader does not implement.
    #[error("unsupported pickle opcode 0x{opcode:02x} at byte {position}")]
    Unsupported {
        /// The opcode byte.
        opcode: u8,
        /// Its offset.
        position: usize,
    },
    /// The stream is inconsistent (stack underflow, bad memo index, wrong operand type).
    #[error("malformed pickle at byte {position}: {message}")]
    Malformed {
        /// Offset of the opcode.
        position: usize,
        /// What was wrong.
        message: String,
    },
}

struct Machine<'a> {
    data: &'a [u8],
    position: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], PickleError> {
        let end = self.position.checked_add(count).filter(|&end| end <= self.data.len());
        let end = end.ok_or(PickleError::Truncated(self.position))?;
        let bytes = &self.data[self.position..end];
        self.position = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, width: usize) -> Result<u64, PickleError> {
        let mut buffer = [0u8; 8];
        buffer[..width].copy_from_slice(self.take(width)?);
        Ok(u64::from_le_bytes(buffer))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.position..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or(PickleError::Truncated(self.position))?;
        self.position += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    fn malformed(&self, at: usize, message: impl Into<String>) -> PickleError {
        PickleError::Malformed { position: at, message: message.into() }
    }

    fn pop(&mut self, at: usize) -> Result<Value, PickleError> {
        self.stack.pop().ok_or_else(|| self.malformed(at, "stack underflow"))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| self.malformed(at, "no MARK"))?;
        if mark > self.stack.len() {
            return Err(self.malformed(at, "MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn top(&mut self, at: usize) -> Result<&mut Value, PickleError> {
        let position = self.position;
        self.stack
            .last_mut()
            .ok_or(PickleError::Malformed { position: at.min(position), message: "empty stack".into() })
    }

    fn string(&mut self, width: usize) -> Result<String, PickleError> {
        let length = self.uint(width)? as usize;
        Ok(String::from_utf8_lossy(self.take(length)?).into_owned())
    }

    fn bytes(&mut self, width: usize) -> Result<Vec<u8>, PickleError> {
        let length = self.uint(width)? as usize;
        Ok(self.take(length)?.to_vec())
    }

    fn add_items(&mut self, at: usize, items: Vec<Value>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed(at, "odd number of dict items"));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            pairs.push((key, value));
        }
        match self.top(at)? {
            Value::Dict(entries) => {
                entries.extend(pairs);
                Ok(())
            }
            other => Err(PickleError::Malformed { position: at, message: format!("SETITEMS on {other:?}") }),
        }
    }

    fn append(&mut self, at: usize, items: Vec<Value>) -> Result<(), PickleError> {
        match self.top(at)? {
            Value::List(list) => {
                list.extend(items);
                Ok(())
            }
            other => Err(PickleError::Malformed { position: at, message: format!("APPENDS on {}", kind_of(other)) }),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Dict(_) => "dict",
        Value::Tuple(_) => "tuple",
        Value::Call(..) => "object",
        _ => "value",
    }
}

/// `callable(*args)`: an OrderedDict becomes a plain dict; everything else stays a `Call`.
fn reduce(callable: Value, args: Value) -> Value {
    match &callable {
        Value::Global(module, name) if module == "collections" && name == "OrderedDict" => Value::Dict(Vec::new()),
        _ => Value::Call(Box::new(callable), Box::new(args)),
    }
}

/// Decodes one pickle from the start of `data`; returns the value and the bytes consumed.
pub fn load(data: &[u8]) -> Result<(Value, usize), PickleError> {
    let mut vm = Machine { data, position: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    loop {
        let at = vm.position;
        let opcode = vm.u8()?;
        match opcode {
            0x80 => {
                vm.u8()?; // PROTO n
            }
            0x95 => {
                vm.take(8)?; // FRAME length: frames are only a read-ahead hint
            }
            b'.' => {
                let value = vm.pop(at)?;
                return Ok((value, vm.position));
            }
            b'(' => vm.marks.push(vm.stack.len()),
            b'N' => vm.stack.push(Value::None),
            0x88 => vm.stack.push(Value::Bool(true)),
            0x89 => vm.stack.push(Value::Bool(false)),
            b'J' => {
                let value = vm.uint(4)? as u32 as i32 as i64;
                vm.stack.push(Value::Int(value));
            }
            b'K' => {
                let value = vm.uint(1)? as i64;
                vm.stack.push(Value::Int(value));
            }
            b'M' => {
                let value = vm.uint(2)? as i64;
                vm.stack.push(Value::Int(value));
            }
            0x8a => {
                // LONG1: little-endian two's complement of n ≤ 8 bytes.
                let length = vm.u8()? as usize;
                let bytes = vm.take(length)?;
                if length > 8 {
                    vm.stack.push(Value::BigInt(bytes.to_vec()));
                    continue;
                }
                let mut buffer = if bytes.last().is_some_and(|b| b & 0x80 != 0) { [0xffu8; 8] } else { [0u8; 8] };
                buffer[..length].copy_from_slice(bytes);
                vm.stack.push(Value::Int(i64::from_le_bytes(buffer)));
            }
            b'G' => {
                let bytes: [u8; 8] = vm.take(8)?.try_into().expect("8 bytes");
                vm.stack.push(Value::Float(f64::from_be_bytes(bytes)));
            }
            b'X' => {
                let text = vm.string(4)?;
                vm.stack.push(Value::Str(text));
            }
            0x8c => {
                let text = vm.string(1)?;
                vm.stack.push(Value::Str(text));
            }
            0x8d => {
                let text = vm.string(8)?;
                vm.stack.push(Value::Str(text));
            }
            b'T' => {
                let text = vm.string(4)?;
                vm.stack.push(Value::Str(text));
            }
            b'U' => {
                let text = vm.string(1)?;
                vm.stack.push(Value::Str(text));
            }
            b'B' => {
                let bytes = vm.bytes(4)?;
                vm.stack.push(Value::Bytes(bytes));
            }
            b'C' => {
                let bytes = vm.bytes(1)?;
                vm.stack.push(Value::Bytes(bytes));
            }
            0x8e => {
                let bytes = vm.bytes(8)?;
                vm.stack.push(Value::Bytes(bytes));
            }
            b'}' => vm.stack.push(Value::Dict(Vec::new())),
            b']' => vm.stack.push(Value::List(Vec::new())),
            b')' => vm.stack.push(Value::Tuple(Vec::new())),
            b'd' => {
                let items = vm.pop_mark(at)?;
                vm.stack.push(Value::Dict(Vec::new()));
                vm.add_items(at, items)?;
            }
            b'l' => {
                let items = vm.pop_mark(at)?;
                vm.stack.push(Value::List(items));
            }
            b't' => {
                let items = vm.pop_mark(at)?;
                vm.stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let count = (opcode - 0x84) as usize;
                if vm.stack.len() < count {
                    return Err(vm.malformed(at, "stack underflow"));
                }
                let items = vm.stack.split_off(vm.stack.len() - count);
                vm.stack.push(Value::Tuple(items));
            }
            b's' => {
                let value = vm.pop(at)?;
                let key = vm.pop(at)?;
                vm.add_items(at, vec![key, value])?;
            }
            b'u' => {
                let items = vm.pop_mark(at)?;
                vm.add_items(at, items)?;
            }
            b'a' => {
                let item = vm.pop(at)?;
                vm.append(at, vec![item])?;
            }
            b'e' => {
                let items = vm.pop_mark(at)?;
                vm.append(at, items)?;
            }
            b'c' => {
                let module = vm.line()?;
                let name = vm.line()?;
                vm.stack.push(Value::Global(module, name));
            }
            0x93 => {
                let name = vm.pop(at)?;
                let module = vm.pop(at)?;
                match (module, name) {
                    (Value::Str(module), Value::Str(name)) => vm.stack.push(Value::Global(module, name)),
                    _ => return Err(vm.malformed(at, "STACK_GLOBAL needs two strings")),
                }
            }
            b'R' | 0x81 => {
                let args = vm.pop(at)?;
                let callable = vm.pop(at)?;
                vm.stack.push(reduce(callable, args));
            }
            b'b' => {
                // BUILD: set state on an object. State dicts carry `_metadata` here: irrelevant.
                vm.pop(at)?;
            }
            b'Q' => {
                let id = vm.pop(at)?;
                vm.stack.push(Value::PersistentId(Box::new(id)));
            }
            b'q' | b'r' | 0x94 => {
                let index = match opcode {
                    b'q' => vm.uint(1)? as u32,
                    b'r' => vm.uint(4)? as u32,
                    _ => vm.memo.len() as u32,
                };
                let top = vm.stack.last().cloned().ok_or_else(|| vm.malformed(at, "memoize on empty stack"))?;
                vm.memo.insert(index, top);
            }
            b'h' | b'j' => {
                let index = if opcode == b'h' { vm.uint(1)? as u32 } else { vm.uint(4)? as u32 };
                let value =
                    vm.memo.get(&index).cloned().ok_or_else(|| vm.malformed(at, format!("memo {index} unset")))?;
                vm.stack.push(value);
            }
            other => return Err(PickleError::Unsupported { opcode: other, position: at }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_protocol_2_dict_with_memo_and_long() {
        // pickle.dumps({'a': [1, -2, 300, 2**40], 'b': ('x', 1.5, None, True)}, protocol=2)
        let data: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01\x8a\x06\x00\x00\x00\x00\x00\x01eX\x01\x00\x00\x00bq\x03(X\x01\x00\x00\x00xq\x04G?\xf8\x00\x00\x00\x00\x00\x00N\x88tq\x05u.";
        let (value, used) = load(data).unwrap();
        assert_eq!(used, data.len());
        let expected = Value::Dict(vec![
            (
                Value::Str("a".into()),
                Value::List(vec![Value::Int(1), Value::Int(-2), Value::Int(300), Value::Int(1 << 40)]),
            ),
            (
                Value::Str("b".into()),
                Value::Tuple(vec![Value::Str("x".into()), Value::Float(1.5), Value::None, Value::Bool(true)]),
            ),
        ]);
        assert_eq!(value, expected);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let data: &[u8] = b"\x80\x02}q\x00(X\x05\x00\x00\x00ab";
        assert!(matches!(load(data), Err(PickleError::Truncated(_))));
        assert!(matches!(load(b"\xff"), Err(PickleError::Unsupported { opcode: 0xff, .. })));
    }
}
