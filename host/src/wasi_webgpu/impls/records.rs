//! The two records a guest builds key by key: `record-gpu-pipeline-constant-value` (a
//! pipeline's override constants) and `record-option-gpu-size64` (a device descriptor's
//! required limits), at most [`MAX_RECORD_KEYS`] keys each.

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::R;

/// Most keys one record holds; adding one more traps the instance.
const MAX_RECORD_KEYS: usize = 1024;

/// `add`: sets `key` to `value` (replacing its value if present); past
/// [`MAX_RECORD_KEYS`] a trap saying "more than 1024 `what`".
fn add<V>(c: &mut Vec<(String, V)>, key: String, value: V, what: &str) -> R<()> {
    match c.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = value,
        None => {
            if c.len() >= MAX_RECORD_KEYS {
                wasmtime::bail!("wasi:webgpu: more than {MAX_RECORD_KEYS} {what}");
            }
            c.push((key, value))
        }
    }
    Ok(())
}

/// `get`: the value of `key`, if present.
fn get<V: Copy>(c: &[(String, V)], key: &str) -> Option<V> {
    c.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `has`: whether `key` is present.
fn has<V>(c: &[(String, V)], key: &str) -> bool {
    c.iter().any(|(k, _)| *k == key)
}

impl w::HostRecordGpuPipelineConstantValue for WebGpuState {
    fn new(&mut self) -> R<Resource<Constants>> {
        self.push(Constants::default())
    }

    fn add(&mut self, this: Resource<Constants>, key: String, value: f64) -> R<()> {
        add(
            &mut self.table.get_mut(&this)?.0,
            key,
            value,
            "pipeline constants",
        )
    }

    fn get(&mut self, this: Resource<Constants>, key: String) -> R<Option<f64>> {
        Ok(get(&self.table.get(&this)?.0, &key))
    }

    fn has(&mut self, this: Resource<Constants>, key: String) -> R<bool> {
        Ok(has(&self.table.get(&this)?.0, &key))
    }

    drop_deletes!(Constants);
}

impl w::HostRecordOptionGpuSize64 for WebGpuState {
    fn new(&mut self) -> R<Resource<OptionSize64Map>> {
        self.push(OptionSize64Map::default())
    }

    fn add(&mut self, this: Resource<OptionSize64Map>, key: String, value: Option<u64>) -> R<()> {
        add(
            &mut self.table.get_mut(&this)?.0,
            key,
            value,
            "required limits",
        )
    }

    fn get(&mut self, this: Resource<OptionSize64Map>, key: String) -> R<Option<Option<u64>>> {
        Ok(get(&self.table.get(&this)?.0, &key))
    }

    fn has(&mut self, this: Resource<OptionSize64Map>, key: String) -> R<bool> {
        Ok(has(&self.table.get(&this)?.0, &key))
    }

    drop_deletes!(OptionSize64Map);
}
