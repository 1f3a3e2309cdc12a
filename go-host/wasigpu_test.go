package offload

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// wasiGPUFixture is the wasi:gpu demo guest (wasm-modules/gpu-guest) as a core module,
// built by scripts/build-gpu-guest.sh; OFFLOAD_WASI_GPU_GUEST overrides the path. A
// missing guest fails the test.
var wasiGPUFixture = &guestFixture{env: "OFFLOAD_WASI_GPU_GUEST", def: filepath.Join(guestDir, "gpu-guest.core.wasm"),
	missing: "wasi:gpu guest not built (%v): run scripts/build-gpu-guest.sh (or ./build.sh test) from the repository root first"}

// newWasiGPUHost makes a host over the shared device of backend (skipping when it is
// unavailable), closed at the end of the test.
func newWasiGPUHost(tb testing.TB, backend string, opts WasiGPUOptions) *WasiGPUHost {
	tb.Helper()
	g := sharedGPU(tb, backend)
	h, err := NewWasiGPUHost(g, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// newWasiInstance instantiates the demo guest on h (compiled once per host), closed at
// the end of the test.
func newWasiInstance(tb testing.TB, h *WasiGPUHost) *WasiGPUInstance {
	tb.Helper()
	w := wasiGPUFixture.instantiate(tb, h)
	tb.Cleanup(func() { _ = w.Close() })
	return w
}

// seededF32 is the demo guest's seeded_f32 (wasm-modules/wasi-gpu-guest): xorshift32
// (13/17/5) from seed, each value (x>>8)·2^-23 − 1.
func seededF32(seed uint32, n int) []float32 {
	x := seed
	if x == 0 {
		x = 1
	}
	out := make([]float32, n)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = float32(x>>8)*(1.0/float32(uint32(1)<<23)) - 1
	}
	return out
}

// wantSum is Σ a and Σ|a| of the guest's seeded vector (seed 1) of n elements.
func wantSum(n int) (sum, scale float64) {
	for _, v := range seededF32(1, n) {
		sum += float64(v)
		scale += math.Abs(float64(v))
	}
	return sum, scale
}

// wantMatmulSum is Σ C of C = A·B for the guest's seeded n×n matrices (A seed 1, B seed
// 2): Σ_k (Σ_i A[i,k])·(Σ_j B[k,j]), with the matching Σ of |terms| for the tolerance.
func wantMatmulSum(n int) (sum, scale float64) {
	a, b := seededF32(1, n*n), seededF32(2, n*n)
	for k := 0; k < n; k++ {
		var ca, cabs, rb, rbs float64
		for i := 0; i < n; i++ {
			ca += float64(a[i*n+k])
			cabs += math.Abs(float64(a[i*n+k]))
		}
		for j := 0; j < n; j++ {
			rb += float64(b[k*n+j])
			rbs += math.Abs(float64(b[k*n+j]))
		}
		sum += ca * rb
		scale += cabs * rbs
	}
	return sum, scale
}

var wasiBackends = []string{"cpu", "wgpu", "cuda"}

// TestWasiGPURun runs the demo guest's self-checking `run` on every available backend,
// then sum and matmul against the host's own reference.
func TestWasiGPURun(t *testing.T) {
	for _, backend := range wasiBackends {
		t.Run(backend, func(t *testing.T) {
			h := newWasiGPUHost(t, backend, WasiGPUOptions{})
			w := newWasiInstance(t, h)
			report, err := w.Run()
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"sum n=100000", "dot n=100000", "matmul m=k=n=64"} {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
			t.Logf("%s: %s", backend, report)
			n := 10000
			got, err := w.Sum(uint32(n))
			if err != nil {
				t.Fatal(err)
			}
			want, scale := wantSum(n)
			if math.Abs(got-want) > 1e-5*scale {
				t.Errorf("sum(%d) = %v, want %v (±%v)", n, got, want, 1e-5*scale)
			}
			got, err = w.Matmul(32, false)
			if err != nil {
				t.Fatal(err)
			}
			want, scale = wantMatmulSum(32)
			if math.Abs(got-want) > 1e-4*scale {
				t.Errorf("matmul(32) Σ C = %v, want %v (±%v)", got, want, 1e-4*scale)
			}
			if _, err := w.Matmul(8, true); err != nil && !h.GPU().Info().SupportsTF32 {
				var ge *GuestError
				if !errors.As(err, &ge) || !strings.Contains(ge.Msg, "unsupported") {
					t.Errorf("tf32 on %s: want an unsupported gpu-error, got %v", backend, err)
				}
			} else if err != nil {
				t.Errorf("tf32 on %s: %v", backend, err)
			}
			if n, bytes := w.Buffers(); n != 0 || bytes != 0 {
				t.Errorf("after run: %d buffers (%d bytes) still held", n, bytes)
			}
		})
	}
}

// TestWasiGPUSameAsRustHost compares the Go host's `run` report with the Rust host's
// (`offload run <component> --invoke 'run()'`) on the same backend.
func TestWasiGPUSameAsRustHost(t *testing.T) {
	bin := filepath.Join("..", "target", "debug", "offload")
	if p := os.Getenv("OFFLOAD_BIN"); p != "" {
		bin = p
	}
	component := filepath.Join(guestDir, "gpu-guest.wasm")
	for _, p := range []string{bin, component} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Rust host comparison skipped: %s not built (%v); scripts/test.sh builds it first", p, err)
		}
	}
	for _, backend := range []string{"cpu", "wgpu"} {
		t.Run(backend, func(t *testing.T) {
			h := newWasiGPUHost(t, backend, WasiGPUOptions{})
			report, err := newWasiInstance(t, h).Run()
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "run", component, "--backend", backend, "--invoke", "run()").CombinedOutput()
			if err != nil {
				t.Fatalf("%s run: %v\n%s", bin, err, out)
			}
			for _, line := range strings.Split(report, "\n") {
				if !strings.Contains(string(out), line) {
					t.Errorf("Rust host output lacks the Go host's line %q:\n%s", line, out)
				}
			}
		})
	}
}

// afterProbe checks that the host still serves a fresh instance after a probe.
func afterProbe(t *testing.T, h *WasiGPUHost) {
	t.Helper()
	w := newWasiInstance(t, h)
	got, err := w.Sum(1000)
	if err != nil {
		t.Fatalf("a fresh instance after the probe: %v", err)
	}
	want, scale := wantSum(1000)
	if math.Abs(got-want) > 1e-5*scale {
		t.Fatalf("a fresh instance after the probe: sum %v, want %v", got, want)
	}
}

func wantTrap(t *testing.T, err error, contains string) {
	t.Helper()
	var te *TrapError
	if !errors.As(err, &te) {
		t.Fatalf("want a trap containing %q, got %v", contains, err)
	}
	if !strings.Contains(te.Msg, contains) {
		t.Fatalf("trap %q does not contain %q", te.Msg, contains)
	}
}

func wantGuestErr(t *testing.T, err error, contains string) {
	t.Helper()
	var ge *GuestError
	if !errors.As(err, &ge) {
		t.Fatalf("want a gpu-error containing %q, got %v", contains, err)
	}
	if !strings.Contains(ge.Msg, contains) {
		t.Fatalf("gpu-error %q does not contain %q", ge.Msg, contains)
	}
}

// TestWasiGPUProbes: every probe is a gpu-error or a trap, and afterwards the host, the
// probing instance's neighbours and a fresh instance still work.
func TestWasiGPUProbes(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{MaxBytes: 1 << 20, Deadline: 300 * time.Millisecond, EpochTick: 10 * time.Millisecond})
	bystander := newWasiInstance(t, h)
	if _, err := bystander.Probe("create-keep", 0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		probe string
		arg   uint64
		check func(t *testing.T, err error)
	}{
		{"use-raw", 999, func(t *testing.T, err error) { wantTrap(t, err, "unknown handle 999") }},
		{"use-raw", 0, func(t *testing.T, err error) { wantTrap(t, err, "unknown handle 0") }},
		{"destroyed-handle", 0, func(t *testing.T, err error) { wantTrap(t, err, "unknown handle") }},
		{"oob-write", 0, func(t *testing.T, err error) { wantGuestErr(t, err, "out-of-bounds") }},
		{"over-quota", 2 << 20, func(t *testing.T, err error) { wantGuestErr(t, err, "quota") }},
		{"bad-pointer", 0, func(t *testing.T, err error) { wantTrap(t, err, "outside linear memory") }},
		{"no-such-probe", 0, func(t *testing.T, err error) { wantGuestErr(t, err, "unknown probe") }},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.probe, c.arg), func(t *testing.T) {
			w := newWasiInstance(t, h)
			_, err := w.Probe(c.probe, c.arg)
			t.Logf("%s(%d): %v", c.probe, c.arg, err)
			c.check(t, err)
			var te *TrapError
			if errors.As(err, &te) {
				if _, err := w.Sum(10); err == nil || !strings.Contains(err.Error(), "unusable after an earlier trap") {
					t.Errorf("a trapped instance must refuse calls, got %v", err)
				}
			}
			afterProbe(t, h)
			if got, err := bystander.Probe("use-raw", 1); err != nil || got != "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" {
				t.Errorf("bystander's own buffer after the probe: %q, %v", got, err)
			}
		})
	}
	t.Run("over-quota/within", func(t *testing.T) {
		got, err := newWasiInstance(t, h).Probe("over-quota", 1<<20)
		if err != nil || got != "allocated 1048576 bytes" {
			t.Fatalf("an allocation of exactly the quota: %q, %v", got, err)
		}
	})
}

// TestWasiGPUConformance runs the conformance table both hosts run
// (wasm-modules/gpu-guest/conformance.txt; the Rust host's is conformance_table in
// host/tests/wasi_gpu.rs): each probe in a fresh instance, with the outcome the table gives.
func TestWasiGPUConformance(t *testing.T) {
	table, err := os.ReadFile(filepath.Join("..", "wasm-modules", "gpu-guest", "conformance.txt"))
	if err != nil {
		t.Fatal(err)
	}
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{MaxBytes: 1 << 20, MaxBuffers: 3})
	rows := 0
	for _, line := range strings.Split(string(table), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("bad row %q", line)
		}
		probe, want := cols[0], cols[2]
		arg, err := strconv.ParseUint(cols[1], 10, 64)
		if err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		got, err := newWasiInstance(t, h).Probe(probe, arg)
		kind, text, _ := strings.Cut(want, " ")
		var ge *GuestError
		var te *TrapError
		ok := false
		switch kind {
		case "ok":
			ok = err == nil && got == text
		case "err":
			ok = errors.As(err, &ge) && strings.HasPrefix(ge.Msg, text+": ")
		case "trap":
			ok = errors.As(err, &te)
		}
		if !ok {
			t.Errorf("%s(%d): want %q, got %q, %v", probe, arg, want, got, err)
		}
		rows++
	}
	if rows < 8 {
		t.Fatalf("only %d rows in the conformance table", rows)
	}
	afterProbe(t, h)
}

// TestWasiGPULoopForever: a guest that never returns is interrupted within the deadline.
func TestWasiGPULoopForever(t *testing.T) {
	deadline := 200 * time.Millisecond
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{Deadline: deadline, EpochTick: 10 * time.Millisecond})
	w := newWasiInstance(t, h)
	start := time.Now()
	_, err := w.Probe("loop-forever", 0)
	took := time.Since(start)
	wantTrap(t, err, "interrupt")
	if !errors.Is(err, ErrDeadline) || !strings.Contains(err.Error(), "deadline of 200ms") {
		t.Errorf("%v: want an error wrapping ErrDeadline naming the deadline", err)
	}
	// At least the deadline, at most two epoch ticks more (plus scheduling slack on a
	// loaded machine).
	if took < deadline || took > deadline+2*time.Second {
		t.Errorf("interrupted after %v, deadline %v", took, deadline)
	}
	afterProbe(t, h)
}

// TestWasiGPUIsolation: an instance cannot name another instance's buffer; each sees its
// own under the same handle number.
func TestWasiGPUIsolation(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{})
	a, b := newWasiInstance(t, h), newWasiInstance(t, h)
	ha, err := a.Probe("create-keep", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Probe("use-raw", parseU64(t, ha)); err != nil || got != "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" {
		t.Fatalf("owner reading its buffer: %q, %v", got, err)
	}
	_, err = b.Probe("use-raw", parseU64(t, ha))
	wantTrap(t, err, "unknown handle "+ha)
	if n, _ := a.Buffers(); n != 1 {
		t.Errorf("owner holds %d buffers after the other's probe, want 1", n)
	}
}

func parseU64(t *testing.T, s string) uint64 {
	t.Helper()
	var v uint64
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatalf("%q is not a handle: %v", s, err)
	}
	return v
}

// TestWasiGPUQuotaAndClose: the buffer quota is enforced per instance, and Close frees
// every buffer the instance still holds on the device.
func TestWasiGPUQuotaAndClose(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{MaxBuffers: 3})
	w := newWasiInstance(t, h)
	for i := 0; i < 3; i++ {
		if _, err := w.Probe("create-keep", 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err := w.Probe("create-keep", 0)
	wantGuestErr(t, err, "quota")
	// Another instance has its own quota.
	if _, err := newWasiInstance(t, h).Probe("create-keep", 0); err != nil {
		t.Fatalf("a second instance's first buffer: %v", err)
	}
	n, bytes := w.Buffers()
	if n != 3 || bytes != 48 {
		t.Fatalf("held %d buffers, %d bytes; want 3, 48", n, bytes)
	}
	w.mu.Lock()
	var ids []GPUBuffer
	for _, e := range w.table {
		ids = append(ids, e.id)
	}
	w.mu.Unlock()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := h.GPU().BufferSize(id); !errors.Is(err, GPUInvalidHandle) {
			t.Errorf("buffer %d after Close: %v, want GPUInvalidHandle", id, err)
		}
	}
	if _, err := w.Run(); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestWasiGPUConcurrentInstances runs instances on several goroutines on one device (run
// with -race).
func TestWasiGPUConcurrentInstances(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{})
	want, scale := wantSum(5000)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		w := newWasiInstance(t, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				got, err := w.Sum(5000)
				if err != nil {
					errs <- err
					return
				}
				if math.Abs(got-want) > 1e-5*scale {
					errs <- fmt.Errorf("sum %v, want %v", got, want)
					return
				}
				if err := w.CallLoop(10); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// abiGuest is a hand-written core module that calls the wasi:gpu imports with arguments
// wit-bindgen never produces, to test the host's canonical-ABI checks directly.
const abiGuest = `(module
  (import "wasi:gpu/compute@0.1.0" "buffer-create" (func $create (param i64 i32)))
  (import "wasi:gpu/ml-kernels@0.1.0" "kernel-reduce" (func $reduce (param i32 i32 i32 i64 i32)))
  (import "wasi:gpu/compute@0.1.0" "get-device-info" (func $info (param i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  ;; buffer-create(16) with the return area at $ret; returns the result's first word
  (func (export "create") (param $ret i32) (result i32)
    (call $create (i64.const 16) (local.get $ret))
    (i32.load (local.get $ret)))
  ;; kernel-reduce with reduce-op $op on handle $h
  (func (export "reduce") (param $op i32) (param $h i32)
    (call $reduce (local.get $op) (i32.const 0) (local.get $h) (i64.const 4) (i32.const 64)))
  (func (export "info") (param $ret i32) (call $info (local.get $ret)))
)`

func TestWasiGPUCanonicalABIChecks(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{})
	wasm, err := wasmtime.Wat2Wasm(abiGuest)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "abi.wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := h.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	inst := func() *WasiGPUInstance {
		w, err := m.Instantiate()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		return w
	}
	call := func(w *WasiGPUInstance, export string, args ...interface{}) (interface{}, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.call(export, args...)
	}
	w := inst()
	v, err := call(w, "create", int32(32))
	if err != nil || v.(int32) != 0 {
		t.Fatalf("create: %v, %v (want discriminant 0)", v, err)
	}
	if n, _ := w.Buffers(); n != 1 {
		t.Fatalf("%d buffers after create", n)
	}
	_, err = call(inst(), "create", int32(34)) // misaligned return area
	wantTrap(t, err, "not 4-byte aligned")
	_, err = call(inst(), "create", int32(65536-8)) // return area past the end of memory
	wantTrap(t, err, "outside linear memory")
	_, err = call(w, "reduce", int32(7), int32(1)) // reduce-op 7 of 3 cases
	wantTrap(t, err, "reduce-op discriminant 7")

	w = inst()
	if _, err := call(w, "info", int32(128)); err != nil {
		t.Fatal(err)
	}
	mem := w.mem()
	ret := mem[128:]
	backend, err := w.liftString("info", 128+8)
	if err != nil || ret[0] != 0 || backend != "cpu" {
		t.Fatalf("device-info: discriminant %d, backend %q, %v", ret[0], backend, err)
	}
	if got := cabi.Le64(ret[48:]); got != h.GPU().Info().MaxBufferBytes {
		t.Errorf("max-buffer-bytes %d, want %d", got, h.GPU().Info().MaxBufferBytes)
	}

	// Imports the host does not provide are refused at compile time, by name.
	bad, _ := wasmtime.Wat2Wasm(`(module (import "wasi:gpu/compute@0.1.0" "buffer-teleport" (func (param i32))))`)
	badPath := filepath.Join(t.TempDir(), "bad.wasm")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Compile(badPath); err == nil || !strings.Contains(err.Error(), "buffer-teleport") {
		t.Errorf("unknown import: %v", err)
	}
}

// TestWasiGPUImportDeclarations pins the core signatures the declared WIT types flatten
// to (i = i32, I = i64, F = f64; the last i of a function with a result is its return
// area) and checks the gpu-error table against the WIT variant's cases and order.
func TestWasiGPUImportDeclarations(t *testing.T) {
	want := map[string]string{
		"buffer-create": "Ii", "buffer-write": "iIiii", "buffer-read": "iIIi", "buffer-copy": "iIiIIi",
		"buffer-destroy": "ii", "sync": "i", "get-device-info": "i", "[resource-drop]buffer": "i",
		"kernel-reduce": "iiiIi", "kernel-elementwise": "iiiiiFiIi", "kernel-matmul": "iiiiiiii",
		"kernel-bootstrap-sample": "Iiiiii", "kernel-find-split": "iiiiiiiiiiiii", "kernel-average": "iiiiii",
		"kernel-batch-predict": "iiiiiiiiiiiiii",
	}
	letter := map[cabi.CoreType]byte{cabi.CoreI32: 'i', cabi.CoreI64: 'I', cabi.CoreF32: 'f', cabi.CoreF64: 'F'}
	if len(wasiGPUImports) != len(want) {
		t.Errorf("%d imports declared, want %d", len(wasiGPUImports), len(want))
	}
	for _, d := range wasiGPUImports {
		var sig []byte
		for _, c := range d.coreParams {
			sig = append(sig, letter[c])
		}
		if string(sig) != want[d.name] || len(d.coreResults) != 0 || d.retArea != (d.result != nil) {
			t.Errorf("%s: core params %q results %v retArea %v; want %q, none, %v", d.name, sig, d.coreResults, d.retArea, want[d.name], d.result != nil)
		}
	}
	wit, err := os.ReadFile(filepath.Join("..", "wasm-modules", "wit", "wasi-gpu", "compute.wit"))
	if err != nil {
		t.Skipf("WIT not found: %v", err)
	}
	body := string(wit)
	body = body[strings.Index(body, "variant gpu-error {"):]
	body = body[:strings.Index(body, "}")]
	var cases []string
	for _, line := range strings.Split(body, "\n") {
		if line = strings.TrimSpace(line); strings.HasSuffix(line, "(string),") {
			cases = append(cases, strings.TrimSuffix(line, "(string),"))
		}
	}
	var names []string
	for _, row := range gpuErrors {
		names = append(names, row.name)
	}
	if strings.Join(cases, " ") != strings.Join(names, " ") {
		t.Errorf("gpu-error cases in the WIT %v, in the table %v", cases, names)
	}
}
