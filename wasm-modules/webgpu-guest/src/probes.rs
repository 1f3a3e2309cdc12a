//! The bad-input probes of issue 16 (item 6): each does one wrong thing through
//! wasi:webgpu, then a right one, and reports what it saw as `key=value` lines. An error
//! the host raised shows as its kind (`validation-error`, `out-of-memory-error`); a
//! rejected call as its error kind (`operation-error`, ...); `none` means nothing was
//! raised (which the host's tests treat as a failure where an error was due).

use super::{bind_with, caught, g, shader, Gpu, Kernel};

/// WGSL that does not parse.
const BAD_WGSL: &str = "@compute @workgroup_size(1) fn main( { let x = ; }";

/// A kernel whose only binding is a uniform vec4 (a layout unlike the kernels').
const ONE_UNIFORM_WGSL: &str = "@group(0) @binding(0) var<uniform> u: vec4<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() { o[0] = u.x; }";

/// Runs the probe `name`.
pub(super) fn run(gpu: &mut Gpu, name: &str) -> Result<String, String> {
    let lines: Vec<String> = match name {
        "invalid-wgsl" => invalid_wgsl(gpu)?,
        "bind-group-mismatch" => bind_group_mismatch(gpu)?,
        "map-twice" => map_twice(gpu),
        "read-unmapped" => read_unmapped(gpu),
        "dispatch-over-limit" => dispatch_over_limit(gpu)?,
        "use-after-destroy" => use_after_destroy(gpu)?,
        "write-ranges" => write_ranges(gpu),
        "quota" => quota(gpu),
        "objects" => objects(gpu),
        _ => return Err(format!("unknown probe '{name}'")),
    };
    Ok(lines.join("\n"))
}

/// A check that the device still works after a probe: sum of 1..=1000 (exact in f32).
fn after(gpu: &mut Gpu) -> String {
    let v: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
    match gpu.reduce(Kernel::Sum, &v, None) {
        Ok(s) => format!("after={s}"),
        Err(e) => format!("after=err({e})"),
    }
}

fn invalid_wgsl(gpu: &mut Gpu) -> Result<Vec<String>, String> {
    let d = &gpu.device;
    d.push_error_scope(g::GpuErrorFilter::Validation);
    let module = d.create_shader_module(&shader(BAD_WGSL, "bad"));
    let (scope, message) = match d.pop_error_scope() {
        Ok(Some(e)) => (super::kind_name(e.kind()).to_string(), e.message()),
        Ok(None) => ("none".to_string(), String::new()),
        Err(e) => return Err(e.message),
    };
    let pipeline = match d.create_compute_pipeline_async(g::GpuComputePipelineDescriptor {
        compute: g::GpuProgrammableStage {
            module: &module,
            entry_point: Some("main".to_string()),
            constants: None,
        },
        layout: g::GpuLayoutMode::Auto,
        label: Some("bad".to_string()),
    }) {
        Ok(_) => "ok".to_string(),
        Err(e) => match e.kind {
            g::CreatePipelineErrorKind::GpuPipelineError(g::GpuPipelineErrorReason::Validation) => {
                "validation".to_string()
            }
            g::CreatePipelineErrorKind::GpuPipelineError(g::GpuPipelineErrorReason::Internal) => {
                "internal".to_string()
            }
        },
    };
    // The message is on one line so that the report stays `key=value` per line.
    let message = message.replace('\n', " ");
    Ok(vec![
        format!("scope={scope}"),
        format!("pipeline={pipeline}"),
        format!("message={message}"),
        after(gpu),
    ])
}

fn bind_group_mismatch(gpu: &mut Gpu) -> Result<Vec<String>, String> {
    gpu.ensure(Kernel::Mul)?;
    let d = &gpu.device;
    let module = d.create_shader_module(&shader(ONE_UNIFORM_WGSL, "one-uniform"));
    let other = d
        .create_compute_pipeline_async(g::GpuComputePipelineDescriptor {
            compute: g::GpuProgrammableStage {
                module: &module,
                entry_point: None,
                constants: None,
            },
            layout: g::GpuLayoutMode::Auto,
            label: Some("one-uniform".to_string()),
        })
        .map_err(|e| format!("the probe's own pipeline: {}", e.message))?;
    let u = gpu.params(&[1, 2, 3, 4])?;
    let o = gpu.upload(&[0.0; 4], "o")?;
    let foreign = bind_with(d, &other.get_bind_group_layout(0), &[&u, &o]);
    // A bind group made for another pipeline's layout, set on mul's pipeline.
    let dispatch = caught(d, g::GpuErrorFilter::Validation, || {
        let enc = d.create_command_encoder(None);
        let pass = enc.begin_compute_pass(None);
        pass.set_pipeline(&gpu.pipelines[&Kernel::Mul]);
        let _ = pass.set_bind_group(0, Some(&foreign), None, None, None);
        pass.dispatch_workgroups(1, None, None);
        pass.end();
        gpu.queue.submit(&[&enc.finish(None)]);
    });
    // A bind group whose entries do not match the layout it names (two of four bindings,
    // the first a uniform buffer where a storage buffer is due).
    let entries = caught(d, g::GpuErrorFilter::Validation, || {
        let layout = gpu.pipelines[&Kernel::Mul].get_bind_group_layout(0);
        let _ = bind_with(d, &layout, &[&u, &o]);
    });
    Ok(vec![
        format!("dispatch={dispatch}"),
        format!("entries={entries}"),
        after(gpu),
    ])
}

fn map_buffer(gpu: &Gpu) -> g::GpuBuffer {
    gpu.buffer(
        16,
        g::GpuBufferUsage::MAP_READ | g::GpuBufferUsage::COPY_DST,
        "map-probe",
    )
}

fn map_result(r: Result<(), g::MapAsyncError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => match e.kind {
            g::MapAsyncErrorKind::OperationError => "operation-error",
            g::MapAsyncErrorKind::RangeError => "range-error",
            g::MapAsyncErrorKind::AbortError => "abort-error",
        }
        .to_string(),
    }
}

fn map_twice(gpu: &mut Gpu) -> Vec<String> {
    let b = map_buffer(gpu);
    let first = map_result(b.map_async(g::GpuMapMode::READ, None, None));
    let second = map_result(b.map_async(g::GpuMapMode::READ, None, None));
    let state = match b.map_state() {
        g::GpuBufferMapState::Unmapped => "unmapped",
        g::GpuBufferMapState::Pending => "pending",
        g::GpuBufferMapState::Mapped => "mapped",
    };
    let _ = b.unmap();
    let again = map_result(b.map_async(g::GpuMapMode::READ, None, None));
    let _ = b.unmap();
    vec![
        format!("first={first}"),
        format!("second={second}"),
        format!("state={state}"),
        format!("after-unmap={again}"),
        after(gpu),
    ]
}

fn read_result(r: Result<Vec<u8>, g::GetMappedRangeError>) -> String {
    match r {
        Ok(v) => format!("{} bytes", v.len()),
        Err(e) => match e.kind {
            g::GetMappedRangeErrorKind::OperationError => "operation-error",
            g::GetMappedRangeErrorKind::RangeError => "range-error",
            g::GetMappedRangeErrorKind::TypeError => "type-error",
        }
        .to_string(),
    }
}

fn read_unmapped(gpu: &mut Gpu) -> Vec<String> {
    let b = map_buffer(gpu);
    let before = read_result(b.get_mapped_range_get_with_copy(None, None));
    let _ = b.map_async(g::GpuMapMode::READ, None, None);
    let mapped = read_result(b.get_mapped_range_get_with_copy(None, None));
    let outside = read_result(b.get_mapped_range_get_with_copy(Some(8), Some(16)));
    let _ = b.unmap();
    let unmapped = read_result(b.get_mapped_range_get_with_copy(None, None));
    vec![
        format!("before-map={before}"),
        format!("mapped={mapped}"),
        format!("outside={outside}"),
        format!("after-unmap={unmapped}"),
        after(gpu),
    ]
}

fn write_result(r: Result<(), g::WriteBufferError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => match e.kind {
            g::WriteBufferErrorKind::OperationError => "operation-error".to_string(),
        },
    }
}

/// write-buffer's ranges: a data range past the end of the list is refused
/// (operation-error, nothing written); a buffer offset that is not a multiple of 4, a range
/// past the end of the buffer and a write into a mapped buffer raise validation errors;
/// then a write of bytes 4..12 of a 16-byte list (data offset 4, size 8) at buffer offset
/// 8 of a zeroed 16-byte buffer, read back as `written` (bytes 5..=12 after eight zeros).
fn write_ranges(gpu: &mut Gpu) -> Vec<String> {
    let data: Vec<u8> = (1..=16).collect();
    let usage = g::GpuBufferUsage::COPY_SRC | g::GpuBufferUsage::COPY_DST;
    let dst = gpu.buffer(16, usage, "write-dst");
    let (q, d) = (&gpu.queue, &gpu.device);
    let zero = write_result(q.write_buffer_with_copy(&dst, 0, &[0u8; 16], None, None));
    let past_list = write_result(q.write_buffer_with_copy(&dst, 0, &data, Some(8), Some(12)));
    let misaligned = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = q.write_buffer_with_copy(&dst, 2, &data[..4], None, None);
    });
    let past_buffer = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = q.write_buffer_with_copy(&dst, 8, &data, None, None);
    });
    let rb = map_buffer(gpu);
    let _ = rb.map_async(g::GpuMapMode::READ, None, None);
    let into_mapped = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = q.write_buffer_with_copy(&rb, 0, &data[..4], None, None);
    });
    let _ = rb.unmap();
    let part = write_result(q.write_buffer_with_copy(&dst, 8, &data, Some(4), Some(8)));
    let enc = d.create_command_encoder(None);
    enc.copy_buffer_to_buffer(&dst, Some(0), &rb, Some(0), Some(16));
    q.submit(&[&enc.finish(None)]);
    let written = match rb.map_async(g::GpuMapMode::READ, None, None) {
        Err(e) => format!("map-failed({})", e.message),
        Ok(()) => match rb.get_mapped_range_get_with_copy(None, None) {
            Ok(v) => v.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
            Err(e) => format!("read-failed({})", e.message),
        },
    };
    let _ = rb.unmap();
    let large = large_roundtrip(gpu);
    vec![
        format!("zero={zero}"),
        format!("past-list={past_list}"),
        format!("misaligned={misaligned}"),
        format!("past-buffer={past_buffer}"),
        format!("into-mapped={into_mapped}"),
        format!("part={part}"),
        format!("written={written}"),
        format!("large={large}"),
        after(gpu),
    ]
}

/// 3 MiB + 12 bytes (more than the host's 1 MiB pieces of a parallel copy, and not a
/// multiple of them) written with one `write-buffer`, copied into a mappable buffer and
/// read back with one `get-mapped-range`: `ok`, or where the first byte differs. Byte `i`
/// holds `i·131 mod 251`, so a piece copied to the wrong place shows.
fn large_roundtrip(gpu: &Gpu) -> String {
    let n = (3 << 20) + 12;
    let data: Vec<u8> = (0..n).map(|i| (i * 131 % 251) as u8).collect();
    let usage = g::GpuBufferUsage::COPY_SRC | g::GpuBufferUsage::COPY_DST;
    let src = gpu.buffer(n as u64, usage, "large-src");
    let rb = gpu.buffer(
        n as u64,
        g::GpuBufferUsage::MAP_READ | g::GpuBufferUsage::COPY_DST,
        "large-read",
    );
    let (q, d) = (&gpu.queue, &gpu.device);
    let r = match q.write_buffer_with_copy(&src, 0, &data, None, None) {
        Err(e) => format!("write-failed({})", e.message),
        Ok(()) => {
            let enc = d.create_command_encoder(None);
            enc.copy_buffer_to_buffer(&src, Some(0), &rb, Some(0), Some(n as u64));
            q.submit(&[&enc.finish(None)]);
            match rb.map_async(g::GpuMapMode::READ, None, None) {
                Err(e) => format!("map-failed({})", e.message),
                Ok(()) => match rb.get_mapped_range_get_with_copy(None, None) {
                    Err(e) => format!("read-failed({})", e.message),
                    Ok(v) if v.len() != n => format!("read {} of {n} bytes", v.len()),
                    Ok(v) => match v.iter().zip(&data).position(|(a, b)| a != b) {
                        None => "ok".to_string(),
                        Some(i) => format!("differs-at-{i}"),
                    },
                },
            }
        }
    };
    let _ = rb.unmap();
    src.destroy();
    rb.destroy();
    r
}

fn dispatch_over_limit(gpu: &mut Gpu) -> Result<Vec<String>, String> {
    gpu.ensure(Kernel::Mul)?;
    let limit = gpu.max_groups;
    let a = gpu.upload(&[1.0; 4], "a")?;
    let b = gpu.upload(&[2.0; 4], "b")?;
    let out = gpu.upload(&[0.0; 4], "out")?;
    let params = gpu.params(&[4, 4])?;
    let group = gpu.bind(Kernel::Mul, &[&a, &b, &out, &params]);
    let d = &gpu.device;
    let over = caught(d, g::GpuErrorFilter::Validation, || {
        let enc = d.create_command_encoder(None);
        let pass = enc.begin_compute_pass(None);
        pass.set_pipeline(&gpu.pipelines[&Kernel::Mul]);
        let _ = pass.set_bind_group(0, Some(&group), None, None, None);
        pass.dispatch_workgroups(limit.saturating_add(1), None, None);
        pass.end();
        gpu.queue.submit(&[&enc.finish(None)]);
    });
    Ok(vec![
        format!("limit={limit}"),
        format!("over={over}"),
        after(gpu),
    ])
}

fn use_after_destroy(gpu: &mut Gpu) -> Result<Vec<String>, String> {
    gpu.ensure(Kernel::Mul)?;
    let b = gpu.upload(&[1.0; 4], "doomed")?;
    let dst = gpu.upload(&[0.0; 4], "dst")?;
    b.destroy();
    let d = &gpu.device;
    let write = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = gpu
            .queue
            .write_buffer_with_copy(&b, 0, &[0u8; 16], None, None);
    });
    let rb = map_buffer(gpu);
    rb.destroy();
    let map = map_result(rb.map_async(g::GpuMapMode::READ, None, None));
    let bind = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = gpu.bind(Kernel::Mul, &[&b, &dst, &dst, &dst]);
    });
    let submit = caught(d, g::GpuErrorFilter::Validation, || {
        let enc = d.create_command_encoder(None);
        enc.copy_buffer_to_buffer(&b, None, &dst, None, None);
        gpu.queue.submit(&[&enc.finish(None)]);
    });
    // A second device of this instance, destroyed: creating on it is an error.
    let second = super::open_device()?;
    second.destroy();
    let device = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = second.create_buffer(&g::GpuBufferDescriptor {
            size: 16,
            usage: g::GpuBufferUsage::STORAGE,
            mapped_at_creation: None,
            label: None,
        });
    });
    Ok(vec![
        format!("write={write}"),
        format!("map={map}"),
        format!("bind={bind}"),
        format!("submit={submit}"),
        format!("device={device}"),
        after(gpu),
    ])
}

fn quota(gpu: &mut Gpu) -> Vec<String> {
    let d = &gpu.device;
    let mut huge = None;
    let create = caught(d, g::GpuErrorFilter::OutOfMemory, || {
        huge = Some(gpu.buffer(
            1 << 40,
            g::GpuBufferUsage::STORAGE | g::GpuBufferUsage::COPY_DST,
            "huge",
        ));
    });
    let huge = huge.expect("set above");
    let write = caught(d, g::GpuErrorFilter::Validation, || {
        let _ = gpu
            .queue
            .write_buffer_with_copy(&huge, 0, &[0u8; 16], None, None);
    });
    vec![
        format!("create={create}"),
        format!("size={}", huge.size()),
        format!("use={write}"),
        after(gpu),
    ]
}

/// Creates small buffers and keeps them until the host stops it (a trap at its object
/// quota); reports how many it made if that never came.
fn objects(gpu: &mut Gpu) -> Vec<String> {
    let mut kept = Vec::new();
    for _ in 0..1_000_000 {
        kept.push(gpu.buffer(4, g::GpuBufferUsage::STORAGE, "many"));
    }
    vec![format!("made={}", kept.len())]
}
