//! The `bindgen!` traits of `wasi:webgpu/webgpu` on [`WebGpuState`]: every import of the
//! compute subset, one concern a file below `impls/`, and what they share. Conventions: a
//! handle the table cannot resolve is a trap (the canonical ABI already refused foreign
//! handles); functions without a `result` raise their errors into the guest's error scopes
//! (see the module documentation) and return an invalid object; wgpu calls run inside
//! `Ctx::capture` (wgpu error scopes, panics caught).

use wasmtime::component::Resource;

use super::bindings::wasi::webgpu::webgpu as w;
use super::objects::{PipelineLayout, QuerySet, Sampler, Texture, TextureView};
use super::WebGpuState;

type R<T> = wasmtime::Result<T>;

/// `fn drop` of a resource that needs nothing but its removal from the table.
macro_rules! drop_deletes {
    ($ty:ty) => {
        fn drop(&mut self, r: Resource<$ty>) -> R<()> {
            self.delete(r).map(|_| ())
        }
    };
}

/// `fn label` of a resource that keeps the label the guest gave it.
macro_rules! label_field {
    ($ty:ty) => {
        fn label(&mut self, this: Resource<$ty>) -> R<String> {
            Ok(self.table.get(&this)?.label.clone())
        }
    };
}

/// `fn label` of a resource without a label (the empty string).
macro_rules! label_empty {
    ($ty:ty) => {
        fn label(&mut self, _this: Resource<$ty>) -> R<String> {
            Ok(String::new())
        }
    };
}

mod adapter;
mod buffers;
mod commands;
mod errors;
mod gpu_device;
mod mapped;
mod pipelines;
mod queue;

pub(super) use mapped::get_mapped_range_into_guest;
pub(super) use queue::write_buffer_from_guest;
mod records;

/// Alignment of mapped sizes and of queue writes (bytes).
const COPY_ALIGN: u64 = 4;

impl WebGpuState {
    fn device_dead(&self, dev: u32) -> bool {
        self.gpu.destroyed_devices.contains(&dev)
    }
}

macro_rules! unobtainable {
    ($($tr:ident for $ty:ident),* $(,)?) => {
        $(
            impl w::$tr for WebGpuState {
                label_empty!($ty);
                drop_deletes!($ty);
            }
        )*
    };
}

unobtainable! {
    HostGpuPipelineLayout for PipelineLayout,
    HostGpuSampler for Sampler,
    HostGpuTexture for Texture,
    HostGpuTextureView for TextureView,
    HostGpuQuerySet for QuerySet,
}
