//! Reads PyTorch checkpoints written by `torch.save` (the zip format of PyTorch >= 1.6) without Python.
//!
//! LibTorch's own unpickler (`Tensor::loadz_multi`) turns `collections.OrderedDict` into `None`, and every
//! `state_dict()` is an OrderedDict, so it cannot read the checkpoints users actually have. This module runs a
//! small pickle machine over `data.pkl` that understands exactly what `torch.save` emits for a state dict: dicts,
//! tuples, lists, strings and numbers, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, and persistent ids
//! naming the storages kept beside the pickle in `data/<key>`. Anything else is kept as an opaque value and ignored.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use tch::{Kind, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("not a readable zip archive: {0}")]
    Zip(String),
    #[error("no data.pkl in the archive")]
    NoPickle,
    #[error("pickle: {0}")]
    Pickle(String),
    #[error("storage {key}: {msg}")]
    Storage { key: String, msg: String },
    #[error("the checkpoint holds no tensors (top level is not a dict of tensors)")]
    NoTensors,
}

fn perr<T>(msg: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError::Pickle(msg.into()))
}

/// A tensor as the pickle describes it: a view into a named storage.
#[derive(Debug, Clone)]
struct TensorRef {
    key: String,
    kind: Kind,
    offset: i64,
    size: Vec<i64>,
    stride: Vec<i64>,
}

#[derive(Debug, Clone)]
enum Value {
    Mark,
    None,
    /// A bool or float: present in pickles (e.g. requires_grad) but never needed for weights.
    Scalar,
    Int(i64),
    Str(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Storage(String, Kind),
    Tensor(TensorRef),
    /// A call we do not model (its result is never needed for weights).
    Opaque,
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

fn ints(v: &Value) -> Result<Vec<i64>, PickleError> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|x| match x {
                Value::Int(i) => Ok(*i),
                other => perr(format!("expected an int in a size/stride tuple, got {other:?}")),
            })
            .collect(),
        other => perr(format!("expected a tuple of ints, got {other:?}")),
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        if self.pos + n > self.data.len() {
            return perr("unexpected end of data.pkl");
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&c| c == b'\n') else { return perr("unterminated line") };
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }
    fn string(&mut self, n: usize) -> Result<Value, PickleError> {
        let b = self.take(n)?;
        Ok(Value::Str(String::from_utf8_lossy(b).into_owned()))
    }
    fn pop(&mut self) -> Result<Value, PickleError> {
        self.stack.pop().map_or_else(|| perr("stack underflow"), Ok)
    }
    fn top(&mut self) -> Result<&mut Value, PickleError> {
        self.stack.last_mut().map_or_else(|| perr("empty stack"), Ok)
    }
    /// Pops everything down to the last MARK.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(m) = self.stack.iter().rposition(|v| matches!(v, Value::Mark)) else { return perr("no MARK") };
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        Ok(items)
    }
    fn memo_put(&mut self, idx: u32) -> Result<(), PickleError> {
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }
    fn memo_get(&mut self, idx: u32) -> Result<(), PickleError> {
        let v = self.memo.get(&idx).cloned().map_or_else(|| perr(format!("memo {idx} missing")), Ok)?;
        self.stack.push(v);
        Ok(())
    }

    fn reduce(callable: Value, args: Value) -> Result<Value, PickleError> {
        let Value::Global(module, name) = &callable else { return Ok(Value::Opaque) };
        let args = match args {
            Value::Tuple(a) => a,
            _ => return Ok(Value::Opaque),
        };
        Ok(match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") => Value::Dict(Vec::new()),
            ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
                let [storage, offset, size, stride, ..] = args.as_slice() else {
                    return perr("_rebuild_tensor_v2 with too few arguments");
                };
                let Value::Storage(key, kind) = storage else { return perr("tensor without a storage") };
                let Value::Int(offset) = offset else { return perr("tensor storage offset is not an int") };
                Value::Tensor(TensorRef {
                    key: key.clone(),
                    kind: *kind,
                    offset: *offset,
                    size: ints(size)?,
                    stride: ints(stride)?,
                })
            }
            // nn.Parameter wraps a tensor: (data, requires_grad, hooks).
            ("torch._utils", "_rebuild_parameter") | ("torch._utils", "_rebuild_parameter_with_state") => {
                args.into_iter().next().unwrap_or(Value::Opaque)
            }
            _ => Value::Opaque,
        })
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.u64()?; // FRAME: the length is only a hint
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Scalar),
                0x89 => self.stack.push(Value::Scalar),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                0x8f => self.stack.push(Value::List(Vec::new())), // EMPTY_SET, contents irrelevant
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v.into()))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v.into()))
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        return perr("integer wider than 64 bits");
                    }
                    let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) { [0xffu8; 8] } else { [0u8; 8] };
                    buf[..n].copy_from_slice(b);
                    self.stack.push(Value::Int(i64::from_le_bytes(buf)))
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Scalar)
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s)
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s)
                }
                0x8d => {
                    let n = self.u64()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s)
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return perr("STACK_GLOBAL needs two strings"),
                    }
                }
                b'q' => {
                    let i = self.u8()?;
                    self.memo_put(i.into())?
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i)?
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    self.memo_put(i)?
                }
                b'h' => {
                    let i = self.u8()?;
                    self.memo_get(i.into())?
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return perr("stack underflow in TUPLEn");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = items.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone()));
                    self.stack.push(Value::Dict(pairs.collect()))
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Value::List(l) = self.top()? {
                        l.push(v)
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Value::List(l) = self.top()? {
                        l.extend(items)
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    if let Value::Dict(d) = self.top()? {
                        d.push((k, v))
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if let Value::Dict(d) = self.top()? {
                        d.extend(items.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())))
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = Self::reduce(callable, args)?;
                    self.stack.push(v)
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args); only OrderedDict matters
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = Self::reduce(cls, args)?;
                    self.stack.push(v)
                }
                b'b' => {
                    // BUILD sets object state (an OrderedDict's `_metadata`); weights do not need it.
                    self.pop()?;
                }
                b'Q' => {
                    // BINPERSID: ('storage', torch.<Type>Storage, key, location, numel)
                    let pid = self.pop()?;
                    let Value::Tuple(t) = pid else { return perr("persistent id is not a tuple") };
                    let (Some(Value::Global(_, ty)), Some(Value::Str(key))) = (t.get(1), t.get(2)) else {
                        return perr("unsupported persistent id");
                    };
                    let kind = storage_kind(ty).map_or_else(|| perr(format!("unsupported storage type {ty}")), Ok)?;
                    self.stack.push(Value::Storage(key.clone(), kind))
                }
                0x8e | b'P' => return perr("unsupported pickle opcode (BINBYTES8/PERSID)"),
                other => return perr(format!("unsupported pickle opcode 0x{other:02x} at byte {}", self.pos - 1)),
            }
        }
    }
}

/// The most elements one tensor of a weight file may hold (8 GB of float32): no pix2pixHD network has a tensor
/// near it, and a copy of a crafted view beyond it would exhaust memory.
pub const MAX_TENSOR_ELEMENTS: i128 = 1 << 31;

/// Whether a view (offset, sizes, strides) fits a storage of `numel` elements: sizes, strides and offset not
/// negative, every element it touches inside the storage, and no more elements than the storage holds (a
/// stride-0 view such as `torch.zeros(1).expand(2**20, 2**20)` touches one element but copies to 2^40) nor than
/// [`MAX_TENSOR_ELEMENTS`].
fn check_view(t: &TensorRef, numel: i64) -> Result<(), String> {
    if t.size.len() != t.stride.len() {
        return Err(format!("has {} sizes but {} strides", t.size.len(), t.stride.len()));
    }
    if t.offset < 0 || t.size.iter().chain(&t.stride).any(|&v| v < 0) {
        return Err(format!("has a negative size, stride or offset ({:?}, {:?}, {})", t.size, t.stride, t.offset));
    }
    let elements: i128 = t.size.iter().map(|&s| i128::from(s)).product();
    if elements > MAX_TENSOR_ELEMENTS {
        return Err(format!("has {elements} elements, more than a weight file may hold ({MAX_TENSOR_ELEMENTS})"));
    }
    if elements == 0 {
        return Ok(());
    }
    if elements > i128::from(numel) {
        return Err(format!("has {elements} elements but its storage only {numel}"));
    }
    let last = i128::from(t.offset)
        + t.size.iter().zip(&t.stride).map(|(&s, &st)| i128::from(s - 1) * i128::from(st)).sum::<i128>();
    if last >= i128::from(numel) {
        return Err(format!("reaches element {last} of a storage of {numel}"));
    }
    Ok(())
}

/// Every top-level `name -> tensor` entry of a zip-format `torch.save` file, in file order. A dict that wraps the
/// weights under `state_dict` (as training scripts often save) is unwrapped.
pub fn read_torch_zip(path: &Path) -> Result<Vec<(String, Tensor)>, PickleError> {
    let file = std::fs::File::open(path).map_err(|e| PickleError::Zip(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| PickleError::Zip(e.to_string()))?;
    let pkl_name = zip.file_names().filter_map(Result::ok).find(|n| n.ends_with("data.pkl")).map(|n| n.into_owned());
    let pkl_name = pkl_name.ok_or(PickleError::NoPickle)?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    let mut pkl = Vec::new();
    zip.by_name(&pkl_name)
        .and_then(|mut f| f.read_to_end(&mut pkl).map_err(Into::into))
        .map_err(|e| PickleError::Zip(e.to_string()))?;
    let machine = Machine { data: &pkl, pos: 0, stack: Vec::new(), memo: HashMap::new() };
    let mut root = machine.run()?;
    if let Value::Dict(d) = &root
        && let Some((_, inner @ Value::Dict(_))) =
            d.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == "state_dict"))
    {
        root = inner.clone();
    }
    let Value::Dict(entries) = root else { return Err(PickleError::NoTensors) };
    let mut storages: HashMap<String, Tensor> = HashMap::new();
    let mut out = Vec::new();
    for (k, v) in entries {
        let (Value::Str(name), Value::Tensor(t)) = (k, v) else { continue };
        if !storages.contains_key(&t.key) {
            let entry = format!("{prefix}data/{}", t.key);
            let mut bytes = Vec::new();
            zip.by_name(&entry)
                .and_then(|mut f| f.read_to_end(&mut bytes).map_err(Into::into))
                .map_err(|e| PickleError::Storage { key: t.key.clone(), msg: e.to_string() })?;
            let elt = t.kind.elt_size_in_bytes();
            if bytes.len() % elt != 0 {
                return Err(PickleError::Storage { key: t.key.clone(), msg: format!("{} bytes", bytes.len()) });
            }
            let n = (bytes.len() / elt) as i64;
            let s = Tensor::f_from_data_size(&bytes, &[n], t.kind)
                .map_err(|e| PickleError::Storage { key: t.key.clone(), msg: e.to_string() })?;
            storages.insert(t.key.clone(), s);
        }
        let storage = &storages[&t.key];
        check_view(&t, storage.numel() as i64)
            .map_err(|msg| PickleError::Storage { key: t.key.clone(), msg: format!("tensor {name} {msg}") })?;
        let view = storage
            .f_as_strided(&t.size, &t.stride, t.offset)
            .map_err(|e| PickleError::Storage { key: t.key.clone(), msg: e.to_string() })?;
        out.push((name, view.contiguous()));
    }
    if out.is_empty() {
        return Err(PickleError::NoTensors);
    }
    Ok(out)
}
