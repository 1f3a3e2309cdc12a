//! Shadow stacks: one per worker.
//!
//! Every instance of a module starts with the same `__stack_pointer` value, so two
//! workers whose kernels touch the shadow stack would write the same bytes of the one
//! shared memory. The host therefore requires a module whose shadow stack it can move:
//!
//! - if the module **exports** a mutable `i32` global `__stack_pointer` (Rust guests:
//!   `-C link-arg=--export=__stack_pointer`), the host grows the memory by
//!   `workers × stack_bytes`, and sets worker `i`'s `__stack_pointer` to the top of the
//!   `i`-th slice (stacks grow down). The main instance keeps the module's own stack.
//!   Those pages are reserved: no buffer may touch them;
//! - if it exports none, kernels must be stackless. The host checks what it can: a
//!   module whose name section names a global `__stack_pointer` that it does not export
//!   is refused at load ([`stack_global_not_exported`]).

use wasmparser::{KnownCustom, Name, Parser, Payload};
use wasmtime::{ExternType, Module, Mutability, ValType};

/// Whether `module` exports a mutable `i32` global `__stack_pointer`.
pub fn exports_stack_pointer(module: &Module) -> bool {
    module.exports().any(|e| {
        e.name() == "__stack_pointer"
            && matches!(e.ty(), ExternType::Global(g)
                if g.mutability() == Mutability::Var && matches!(g.content(), ValType::I32))
    })
}

/// Whether the module's name section names a global `__stack_pointer` that the module
/// does not export (a shadow stack the host could not move). Unreadable bytes count as
/// "no" (wasmtime has validated the module already).
pub fn stack_global_not_exported(bytes: &[u8]) -> bool {
    let mut named = None;
    let mut exported = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return false };
        match payload {
            Payload::ExportSection(reader) => {
                for e in reader.into_iter().flatten() {
                    if e.kind == wasmparser::ExternalKind::Global {
                        exported.push(e.index);
                    }
                }
            }
            Payload::CustomSection(c) => {
                if let KnownCustom::Name(names) = c.as_known() {
                    for n in names.into_iter().flatten() {
                        if let Name::Global(map) = n {
                            for naming in map.into_iter().flatten() {
                                if naming.name == "__stack_pointer" {
                                    named = Some(naming.index);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    named.is_some_and(|i| !exported.contains(&i))
}
