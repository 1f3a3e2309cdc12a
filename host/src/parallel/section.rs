//! The GPU form of a kernel: WGSL source in a custom section of the guest module, keyed
//! by the kernel's table index — section name `wasi-parallel-wgsl:<index>`, data the
//! UTF-8 WGSL text. [`attach`] writes one (what `offload attach-kernel` does),
//! [`kernels`] reads them all.

use std::collections::HashMap;

use wasm_encoder::{CustomSection, Module, RawSection};
use wasmparser::{KnownCustom, Name, Parser, Payload};

/// The prefix of the section names; the table index follows in decimal.
pub const PREFIX: &str = "wasi-parallel-wgsl:";

/// The section name of kernel `index`.
pub fn section_name(index: u32) -> String {
    format!("{PREFIX}{index}")
}

/// Returns `module` with `wgsl` attached as kernel `index`'s GPU form, replacing an
/// earlier one for the same index; every other section is kept byte for byte.
///
/// # Errors
/// A message when `module` is not a valid core module (wasmparser's), or a component.
pub fn attach(module: &[u8], index: u32, wgsl: &str) -> Result<Vec<u8>, String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(module)
        .map_err(|e| format!("not a valid wasm module: {e}"))?;
    let name = section_name(index);
    let mut out = Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| e.to_string())?;
        match &payload {
            Payload::Version { encoding, .. } => {
                if *encoding != wasmparser::Encoding::Module {
                    return Err("a component, not a core module".into());
                }
            }
            Payload::CustomSection(c) if c.name() == name => {}
            Payload::CodeSectionEntry(_) | Payload::End(_) => {}
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    let data = &module[range.start as usize..range.end as usize];
                    out.section(&RawSection { id, data });
                }
            }
        }
    }
    out.section(&CustomSection {
        name: name.into(),
        data: wgsl.as_bytes().into(),
    });
    Ok(out.finish())
}

/// The table index of the function named `name` — by the name section (a Rust
/// `#[no_mangle]` kernel keeps its plain name there) or else by export — in the
/// module's active element segments of table 0 with constant offsets.
///
/// # Errors
/// A message when no function has that name, or it sits in no table slot.
pub fn table_index_of(module: &[u8], name: &str) -> Result<u32, String> {
    let mut by_name = None;
    let mut by_export = None;
    let mut slots: Vec<(u32, u32)> = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ExportSection(r) => {
                for e in r.into_iter().flatten() {
                    if e.name == name && e.kind == wasmparser::ExternalKind::Func {
                        by_export = Some(e.index);
                    }
                }
            }
            Payload::ElementSection(r) => {
                for el in r.into_iter().flatten() {
                    let wasmparser::ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = el.kind
                    else {
                        continue;
                    };
                    if table_index.unwrap_or(0) != 0 {
                        continue;
                    }
                    let mut ops = offset_expr.get_operators_reader();
                    let Ok(wasmparser::Operator::I32Const { value }) = ops.read() else {
                        continue;
                    };
                    if let wasmparser::ElementItems::Functions(funcs) = el.items {
                        for (i, f) in funcs.into_iter().flatten().enumerate() {
                            slots.push((f, value as u32 + i as u32));
                        }
                    }
                }
            }
            Payload::CustomSection(c) => {
                if let KnownCustom::Name(names) = c.as_known() {
                    for n in names.into_iter().flatten() {
                        if let Name::Function(map) = n {
                            for naming in map.into_iter().flatten() {
                                if naming.name == name {
                                    by_name = Some(naming.index);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let func = by_name
        .or(by_export)
        .ok_or_else(|| format!("no function named `{name}` (name section or export)"))?;
    slots
        .iter()
        .find(|(f, _)| *f == func)
        .map(|&(_, slot)| slot)
        .ok_or_else(|| format!("function `{name}` (index {func}) is in no slot of table 0"))
}

/// Every attached kernel of `module`: table index → WGSL. Sections with a bad index or
/// non-UTF-8 data are skipped (the kernel then has no GPU form).
pub fn kernels(module: &[u8]) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for payload in Parser::new(0).parse_all(module) {
        let Ok(payload) = payload else { break };
        if let Payload::CustomSection(c) = payload {
            let Some(index) = c.name().strip_prefix(PREFIX) else {
                continue;
            };
            if let (Ok(index), Ok(text)) = (index.parse::<u32>(), std::str::from_utf8(c.data())) {
                map.insert(index, text.to_string());
            }
        }
    }
    map
}

/// The `@workgroup_size(x, ...)` of a WGSL compute shader: its first `x`, 64 when absent.
pub fn workgroup_size(wgsl: &str) -> u32 {
    wgsl.split("@workgroup_size(")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .filter(|&x| x > 0)
        .unwrap_or(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_replaces_and_kernels_reads_back() {
        let m = wat::parse_str("(module (func (export \"f\")))").unwrap();
        let one = attach(&m, 3, "a").unwrap();
        let two = attach(&one, 3, "b").unwrap();
        let three = attach(&two, 0, "c").unwrap();
        let k = kernels(&three);
        assert_eq!(k.len(), 2);
        assert_eq!(k[&3], "b");
        assert_eq!(k[&0], "c");
        wasmparser::validate(&three).unwrap();
        assert!(attach(b"nope", 0, "x").is_err());
    }

    #[test]
    fn table_index_of_finds_named_and_exported_functions() {
        let m = wat::parse_str(
            r#"(module (table 4 funcref) (elem (i32.const 2) $a $b)
                 (func $a) (func $b (export "bee")) (func $c))"#,
        )
        .unwrap();
        assert_eq!(table_index_of(&m, "a"), Ok(2));
        assert_eq!(table_index_of(&m, "bee"), Ok(3));
        assert!(table_index_of(&m, "c").unwrap_err().contains("no slot"));
        assert!(table_index_of(&m, "zz").is_err());
    }

    #[test]
    fn workgroup_size_is_read_from_the_shader() {
        assert_eq!(
            workgroup_size("@compute @workgroup_size( 128, 1) fn main"),
            128
        );
        assert_eq!(workgroup_size("fn main"), 64);
    }
}
