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
//! `list<f32>` argument that the host passes to a guest export (the forest guests' rows);
//! [`HostF64s`] is the way back, a `list<f64>` result lifted out of linear memory with one
//! parallel copy (the forest guests' predictions).

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

/// A `list<f64>` result of a guest export (a forest predict's means: 8 MB for 10^6 rows)
/// lifted with one copy out of linear memory on several threads from 2 MiB on
/// ([`offload_core::par::copy_bytes_to`]) into a vector it allocates without zeroing:
/// wasmtime's own lift of a `Vec<f64>` copies element by element on one thread. The
/// (pointer, length) pair is checked as wasmtime checks a list's: pointer 8-aligned, the
/// whole list inside linear memory; a pair that fails is an error naming it, returned by
/// the call (as a trap of the export), and the host carries on.
pub(crate) struct HostF64s(pub Vec<f64>);

impl HostF64s {
    /// Copies the `len` f64s at byte `ptr` of `memory` (linear memory) out.
    fn lift(memory: &[u8], ptr: usize, len: usize) -> wasmtime::Result<Self> {
        let bytes = len
            .checked_mul(8)
            .filter(|b| ptr.checked_add(*b).is_some_and(|end| end <= memory.len()))
            .ok_or_else(|| {
                wasmtime::format_err!(
                    "list<f64> of {len} elements at byte {ptr} lies outside linear memory \
                     ({} bytes)",
                    memory.len()
                )
            })?;
        if !ptr.is_multiple_of(8) {
            wasmtime::bail!("list<f64> at byte {ptr} is not 8-byte aligned");
        }
        let src = &memory[ptr..ptr + bytes];
        let mut v = Vec::<f64>::with_capacity(len);
        if cfg!(target_endian = "little") {
            // SAFETY: v has capacity for len f64s (`bytes` bytes), is not shared, and does
            // not overlap linear memory; every byte is written before set_len.
            unsafe {
                offload_core::par::copy_bytes_to(v.as_mut_ptr().cast::<u8>(), src);
                v.set_len(len);
            }
        } else {
            v.extend(
                src.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk"))),
            );
        }
        Ok(Self(v))
    }
}

// SAFETY: the representation of `[f64]` (a list: a pointer pair), whose ABI and type check
// this delegates to.
unsafe impl wasmtime::component::ComponentType for HostF64s {
    type Lower = [wasmtime::ValRaw; 2];
    const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
        <[f64] as wasmtime::component::ComponentType>::ABI;

    fn typecheck(
        ty: &wasmtime::component::__internal::InterfaceType,
        types: &wasmtime::component::__internal::InstanceType<'_>,
    ) -> wasmtime::Result<()> {
        <[f64] as wasmtime::component::ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: reads a (pointer, length) pair as `Vec<f64>`'s lift does (flat: two i32 in i64
// `ValRaw`s; in memory: two little-endian u32) and checks the list before reading it.
unsafe impl wasmtime::component::Lift for HostF64s {
    fn linear_lift_from_flat(
        cx: &mut wasmtime::component::__internal::LiftContext<'_>,
        _ty: wasmtime::component::__internal::InterfaceType,
        src: &[wasmtime::ValRaw; 2],
    ) -> wasmtime::Result<Self> {
        let (ptr, len) = (src[0].get_u32() as usize, src[1].get_u32() as usize);
        Self::lift(cx.memory(), ptr, len)
    }

    fn linear_lift_from_memory(
        cx: &mut wasmtime::component::__internal::LiftContext<'_>,
        _ty: wasmtime::component::__internal::InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        Self::lift(cx.memory(), word(0) as usize, word(4) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::HostF64s;

    /// Linear memory holding `n` f64s (i · 0.5 − 7) from byte `at`.
    fn memory(at: usize, n: usize) -> Vec<u8> {
        let mut m = vec![0xa5u8; at + n * 8 + 16];
        for i in 0..n {
            let v = i as f64 * 0.5 - 7.0;
            m[at + i * 8..at + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        m
    }

    #[test]
    fn host_f64s_lifts_every_element_in_order() {
        // 3 MiB + 8 elements: the parallel copy (several pieces) and a tail.
        for n in [0, 1, 3, (3 << 20) / 8 + 1] {
            let m = memory(64, n);
            let got = HostF64s::lift(&m, 64, n).expect("a list inside memory").0;
            assert_eq!(got.len(), n);
            for (i, v) in got.iter().enumerate() {
                assert_eq!(
                    v.to_bits(),
                    (i as f64 * 0.5 - 7.0).to_bits(),
                    "element {i} of {n}"
                );
            }
        }
    }

    #[test]
    fn host_f64s_refuses_bad_lists() {
        let m = memory(64, 4);
        let err = |ptr: usize, len: usize| match HostF64s::lift(&m, ptr, len) {
            Ok(_) => panic!("({ptr}, {len}) lifted"),
            Err(e) => e.to_string(),
        };
        assert!(err(68, 1).contains("not 8-byte aligned"));
        assert!(err(64, 100).contains("outside linear memory"));
        assert!(err(m.len(), 1).contains("outside linear memory"));
        assert!(err(8, usize::MAX / 4).contains("outside linear memory"));
    }
}
