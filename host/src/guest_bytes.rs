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

/// A `list<f32>` argument (rows of features, e.g. 10^6 rows × 10 = 40 MB for a forest
/// predict) lowered into the guest with one copy, on several threads (rayon, pieces of
/// [`PIECE_ELEMS`] elements) from two pieces on. wasmtime's own lowering of a `&[f32]`
/// asks `cabi_realloc` for the list (align 4) and stores it element by element on one
/// thread; this asks for the same memory and writes the same little-endian bytes. Same
/// `#[doc(hidden)]` wasmtime items, and the same pin, as [`lower_as_guest_bytes!`].
pub(crate) struct GuestF32s<'a>(pub &'a [f32]);

/// Elements of each piece of [`GuestF32s`]' parallel copy (1 MiB).
const PIECE_ELEMS: usize = 1 << 18;

impl GuestF32s<'_> {
    /// Allocates the list in the guest and fills it; (pointer, length in elements).
    fn lower_list<T>(
        &self,
        cx: &mut wasmtime::component::__internal::LowerContext<'_, T>,
    ) -> wasmtime::Result<(usize, usize)> {
        use rayon::prelude::*;
        let src = self.0;
        let bytes = src
            .len()
            .checked_mul(4)
            .ok_or_else(|| wasmtime::format_err!("size overflow copying a list"))?;
        let ptr = cx.realloc(0, 0, 4, bytes)?;
        // `realloc` checked that ptr..ptr+bytes lies inside linear memory.
        let dst = &mut cx.as_slice_mut()[ptr..ptr + bytes];
        let copy = |d: &mut [u8], s: &[f32]| {
            for (d, v) in d.chunks_exact_mut(4).zip(s) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        };
        if src.len() < 2 * PIECE_ELEMS {
            copy(dst, src);
        } else {
            dst.par_chunks_mut(4 * PIECE_ELEMS)
                .zip(src.par_chunks(PIECE_ELEMS))
                .for_each(|(d, s)| copy(d, s));
        }
        Ok((ptr, src.len()))
    }
}

// SAFETY: the representation of `[f32]` (`list<f32>`: a pointer pair), whose ABI and type
// check this delegates to.
unsafe impl wasmtime::component::ComponentType for GuestF32s<'_> {
    type Lower = [wasmtime::ValRaw; 2];
    const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
        <[f32] as wasmtime::component::ComponentType>::ABI;

    fn typecheck(
        ty: &wasmtime::component::__internal::InterfaceType,
        types: &wasmtime::component::__internal::InstanceType<'_>,
    ) -> wasmtime::Result<()> {
        <[f32] as wasmtime::component::ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes exactly a (pointer, length) pair as `[f32]`'s lowering does: flat as two
// i64 `ValRaw`s, in memory as two little-endian u32 (memory32).
unsafe impl wasmtime::component::Lower for GuestF32s<'_> {
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
