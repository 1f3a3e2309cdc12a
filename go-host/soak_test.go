package offload

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakDefaultIters is TestSoakWasiGPU's lifecycles per backend when OFFLOAD_SOAK_ITERS is
// unset: about 5 s on cpu and lavapipe (scripts/fuzz.sh passes 10,000). Not the Rust
// soak's 200: the C side's allocators (wasmtime's, glibc's) settle only after 100 to 200
// lifecycles in this host, so the warm-up (a tenth) must be at least that long for the
// 5 % bound to measure leaks rather than the settling.
const soakDefaultIters = 2000

// soakGCEvery is how often (in lifecycles) TestSoakWasiGPU runs the Go collector.
// wasmtime-go frees some C memory only in finalizers (e.g. the Func and Trap objects of
// each call), so without a collection at a fixed cadence
// RSS would carry a high-water mark of not-yet-finalized C memory that depends on when the
// collector happens to run (about 3 MiB here), not on what the host retains.
const soakGCEvery = 100

// soakN is the length of the sums and dots of every lifecycle.
const soakN = 1000

// soakIters is $OFFLOAD_SOAK_ITERS, else soakDefaultIters; anything but a positive number
// fails tb.
func soakIters(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("OFFLOAD_SOAK_ITERS")
	if s == "" {
		return soakDefaultIters
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("OFFLOAD_SOAK_ITERS=%q is not a positive number", s)
	}
	return n
}

// residentBytes is this process's resident set size (/proc/self/statm), measured after
// debug.FreeOSMemory (a full collection that returns freed heap to the OS), so that it
// counts what the process retains rather than the collector's slack.
func residentBytes(tb testing.TB) uint64 {
	tb.Helper()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		tb.Fatalf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		tb.Fatalf("/proc/self/statm: %v", err)
	}
	return pages * uint64(os.Getpagesize())
}

// wantDot is Σ a·b of the guest's seeded vectors (a seed 1, b seed 2) of n elements,
// each product in f32 as the device computes it.
func wantDot(n int) float64 {
	a, b := seededF32(1, n), seededF32(2, n)
	var s float64
	for i := range a {
		s += float64(a[i] * b[i])
	}
	return s
}

// TestSoakWasiGPU (issue 19, item 3, scaled down): OFFLOAD_SOAK_ITERS lifecycles (default
// soakDefaultIters) of the demo guest per backend, through the Go host API, one host per
// backend: cpu, and wgpu and cuda where they open (else the subtest is skipped with the
// reason). Each lifecycle instantiates the guest, runs sum, dot and matmul (create
// buffers, write, kernel, read, destroy), keeps two buffers with create-keep, and closes
// the instance.
//
// Asserts: every answer equals the host's reference (within f32 rounding); each instance
// holds exactly its two kept buffers before Close and none after; no device buffer id is
// seen twice across instances; every buffer an instance held is gone from the device after
// Close (GPUInvalidHandle); host RSS at the end is at most 5 % over RSS after the warm-up
// (the first tenth of the lifecycles, at least 20). Logs RSS at the start, after the
// warm-up and at the end (go test -v).
func TestSoakWasiGPU(t *testing.T) {
	iters := soakIters(t)
	for _, backend := range wasiBackends {
		t.Run(backend, func(t *testing.T) { soakWasiGPU(t, backend, iters) })
	}
}

// soakWasiGPU runs the lifecycles of TestSoakWasiGPU on one backend.
func soakWasiGPU(t *testing.T, backend string, iters int) {
	// Every cgo call from one OS thread, so that glibc does not add a malloc arena per
	// thread the runtime happens to run the calls on (growth that settles only after
	// thousands of lifecycles, and is no leak of the host's).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := newWasiGPUHost(t, backend, WasiGPUOptions{})
	wantS, scale := wantSum(soakN)
	wantD := wantDot(soakN)
	wantM, scaleM := wantMatmulSum(8)
	warmup := max(iters/10, 20)
	warmup = min(warmup, iters)
	startRSS := residentBytes(t)
	warmRSS := startRSS
	// Sized up front, so that the test's own bookkeeping does not grow during the soak.
	seen := make(map[GPUBuffer]int, 2*iters)
	start := time.Now()
	for k := 0; k < iters; k++ {
		if err := soakLifecycle(t, h, k, seen, wantS, scale, wantD, wantM, scaleM); err != nil {
			t.Fatalf("%s lifecycle %d: %v", backend, k, err)
		}
		if (k+1)%soakGCEvery == 0 {
			runtime.GC()
		}
		if k+1 == warmup {
			warmRSS = residentBytes(t)
		}
	}
	endRSS := residentBytes(t)
	growth := (float64(endRSS) - float64(warmRSS)) / float64(warmRSS) * 100
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("soak-wasi-gpu-go/%s: %d lifecycles in %.1f s; RSS start %.1f MiB, after %d (warm-up) "+
		"%.1f MiB, end %.1f MiB (%+.2f %% after warm-up); %d distinct device buffer ids",
		backend, iters, time.Since(start).Seconds(), mib(startRSS), warmup, mib(warmRSS),
		mib(endRSS), growth, len(seen))
	if growth > 5 {
		t.Errorf("%s: RSS grew %.2f %% after warm-up (%d -> %d bytes)", backend, growth, warmRSS, endRSS)
	}
}

// soakLifecycle is lifecycle k: instantiate, compute and check, keep two buffers, close,
// check that they are gone. seen maps each device buffer id to the lifecycle that had it.
func soakLifecycle(t *testing.T, h *WasiGPUHost, k int, seen map[GPUBuffer]int,
	wantS, scale, wantD, wantM, scaleM float64) error {
	w := wasiGPUFixture.instantiate(t, h)
	closed := false
	defer func() {
		if !closed {
			_ = w.Close()
		}
	}()
	got, err := w.Sum(soakN)
	if err != nil {
		return err
	}
	if math.Abs(got-wantS) > 1e-5*scale {
		return fmt.Errorf("sum(%d) = %v, want %v", soakN, got, wantS)
	}
	if got, err = w.Dot(soakN); err != nil {
		return err
	}
	if math.Abs(got-wantD) > 1e-5*soakN {
		return fmt.Errorf("dot(%d) = %v, want %v", soakN, got, wantD)
	}
	if got, err = w.Matmul(8, false); err != nil {
		return err
	}
	if math.Abs(got-wantM) > 1e-4*scaleM {
		return fmt.Errorf("matmul(8) Σ C = %v, want %v", got, wantM)
	}
	for i := 0; i < 2; i++ {
		if _, err := w.Probe("create-keep", 0); err != nil {
			return err
		}
	}
	if n, bytes := w.Buffers(); n != 2 || bytes != 32 {
		return fmt.Errorf("holds %d buffers (%d bytes), want its 2 kept buffers of 16", n, bytes)
	}
	w.mu.Lock()
	var ids []GPUBuffer
	for _, e := range w.table {
		ids = append(ids, e.id)
	}
	w.mu.Unlock()
	for _, id := range ids {
		if prev, dup := seen[id]; dup {
			return fmt.Errorf("device buffer id %d seen twice (lifecycle %d had it)", id, prev)
		}
		seen[id] = k
	}
	closed = true
	if err := w.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if n, bytes := w.Buffers(); n != 0 || bytes != 0 {
		return fmt.Errorf("after Close: %d buffers (%d bytes) held", n, bytes)
	}
	for _, id := range ids {
		if _, err := h.GPU().BufferSize(id); !errors.Is(err, GPUInvalidHandle) {
			return fmt.Errorf("device buffer %d after Close: %v, want GPUInvalidHandle", id, err)
		}
	}
	return nil
}
