//! `list<u8>` results that a host function writes straight into the guest's memory.
//!
//! wasmtime lowers a `Vec<u8>` result by calling the guest's `cabi_realloc` and copying the
//! vector into linear memory: for bytes that live elsewhere (a device buffer, a mapped
//! range) that is a copy into a fresh host vector (page faults) and a second one into the
//! guest. A type given [`lower_as_guest_bytes!`] lowers as a `list<u8>` itself: it asks
//! `cabi_realloc` for its `byte_len()` bytes (align 1) and has `fill` write them in place,
//! one copy. It implements wasmtime's `ComponentType`/`Lower` traits, whose items are
//! `#[doc(hidden)]` and outside wasmtime's API stability promise (the same ones
//! `#[derive(Lower)]` uses): the host pins wasmtime 48. An error from `fill` (the host
//! checked everything it could before returning the value) traps the guest with its message.
//! Users: wasi:gpu's `buffer-read` (`DeviceRead`) and wasi:webgpu's
//! `get-mapped-range-get-with-copy` (`MappedRead`).

/// Implements `ComponentType` and `Lower` for `$t` as a `list<u8>` (see the module docs).
/// `$t` must have `fn byte_len(&self) -> usize` and
/// `fn fill(&self, dst: &mut [u8]) -> wasmtime::Result<()>` (`dst` is `byte_len()` bytes
/// of the guest's memory).
macro_rules! lower_as_guest_bytes {
    ($t:ty) => {
        impl $t {
            /// Allocates the list in the guest and fills it; (pointer, length).
            fn lower_list<T>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, T>,
            ) -> wasmtime::Result<(usize, usize)> {
                let len = self.byte_len();
                let ptr = cx.realloc(0, 0, 1, len)?;
                // `realloc` checked that ptr..ptr+len lies inside linear memory.
                self.fill(&mut cx.as_slice_mut()[ptr..ptr + len])?;
                Ok((ptr, len))
            }
        }

        // SAFETY: the representation of `[u8]` (`list<u8>`: a pointer pair), whose ABI and
        // type check this delegates to.
        unsafe impl wasmtime::component::ComponentType for $t {
            type Lower = [wasmtime::ValRaw; 2];
            const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
                <[u8] as wasmtime::component::ComponentType>::ABI;

            fn typecheck(
                ty: &wasmtime::component::__internal::InterfaceType,
                types: &wasmtime::component::__internal::InstanceType<'_>,
            ) -> wasmtime::Result<()> {
                <[u8] as wasmtime::component::ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: writes exactly a (pointer, length) pair as `[u8]`'s lowering does: flat as
        // two i64 `ValRaw`s, in memory as two little-endian u32 (memory32).
        unsafe impl wasmtime::component::Lower for $t {
            fn linear_lower_to_flat<T>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, T>,
                _ty: wasmtime::component::__internal::InterfaceType,
                dst: &mut std::mem::MaybeUninit<[wasmtime::ValRaw; 2]>,
            ) -> wasmtime::Result<()> {
                let (ptr, len) = self.lower_list(cx)?;
                dst.write([
                    wasmtime::ValRaw::i64(ptr as i64),
                    wasmtime::ValRaw::i64(len as i64),
                ]);
                Ok(())
            }

            fn linear_lower_to_memory<T>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, T>,
                _ty: wasmtime::component::__internal::InterfaceType,
                offset: usize,
            ) -> wasmtime::Result<()> {
                let (ptr, len) = self.lower_list(cx)?;
                *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
                *cx.get::<4>(offset + 4) = u32::try_from(len)?.to_le_bytes();
                Ok(())
            }
        }
    };
}

pub(crate) use lower_as_guest_bytes;
