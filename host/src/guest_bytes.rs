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
//! `get-mapped-range-get-with-copy` (`MappedRead`). [`GuestF32s`] does the same for a
//! `list<f32>` argument that the host passes to a guest export (the forest guests' rows).

/// Implements `ComponentType` and `Lower` for `$t` as a `list<u8>` (see the module docs).
/// `$t` must have `fn byte_len(&self) -> usize` and
/// `fn fill(&self, dst: &mut [u8]) -> wasmtime::Result<()>` (`dst` is `byte_len()` bytes
/// of the guest's memory).
macro_rules! lower_as_guest_bytes {
    ($t:ty) => {
        $crate::guest_bytes::lower_as_guest_list!($t, u8);
    };
}

/// [`lower_as_guest_bytes!`] for a `list<$elem>` of a primitive `$elem` (`u8`, `f32`, …):
/// `byte_len()` is the list's length in bytes (a multiple of the element's size), `fill`
/// writes the little-endian bytes of the elements; the list is allocated with the
/// element's alignment.
macro_rules! lower_as_guest_list {
    ($t:ty, $elem:ty) => {
        impl $t {
            /// Allocates the list in the guest and fills it; (pointer, length in elements).
            fn lower_list<T>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, T>,
            ) -> wasmtime::Result<(usize, usize)> {
                let len = self.byte_len();
                let align = core::mem::align_of::<$elem>() as u32;
                let ptr = cx.realloc(0, 0, align, len)?;
                // `realloc` checked that ptr..ptr+len lies inside linear memory.
                self.fill(&mut cx.as_slice_mut()[ptr..ptr + len])?;
                Ok((ptr, len / core::mem::size_of::<$elem>()))
            }
        }

        // SAFETY: the representation of `[$elem]` (a list: a pointer pair), whose ABI and
        // type check this delegates to.
        unsafe impl wasmtime::component::ComponentType for $t {
            type Lower = [wasmtime::ValRaw; 2];
            const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
                <[$elem] as wasmtime::component::ComponentType>::ABI;

            fn typecheck(
                ty: &wasmtime::component::__internal::InterfaceType,
                types: &wasmtime::component::__internal::InstanceType<'_>,
            ) -> wasmtime::Result<()> {
                <[$elem] as wasmtime::component::ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: writes exactly a (pointer, length) pair as `[$elem]`'s lowering does: flat
        // as two i64 `ValRaw`s, in memory as two little-endian u32 (memory32).
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
pub(crate) use lower_as_guest_list;

/// A `list<f32>` argument (rows of features, e.g. 10^6 rows × 10 = 40 MB for a forest
/// predict) lowered into the guest with one copy, on several threads from 2 MiB on
/// ([`offload_core::par::copy_bytes`]): wasmtime's own lowering of a `&[f32]` asks
/// `cabi_realloc` for the same memory and stores the elements one by one on one thread.
pub(crate) struct GuestF32s<'a>(pub &'a [f32]);

impl GuestF32s<'_> {
    fn byte_len(&self) -> usize {
        std::mem::size_of_val(self.0)
    }

    fn fill(&self, dst: &mut [u8]) -> wasmtime::Result<()> {
        if cfg!(target_endian = "little") {
            offload_core::par::copy_bytes(dst, bytemuck::cast_slice(self.0));
        } else {
            for (d, v) in dst.chunks_exact_mut(4).zip(self.0) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        Ok(())
    }
}

lower_as_guest_list!(GuestF32s<'_>, f32);
