package offload

import (
	"bytes"
	"strings"
	"testing"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// fastWriteGuest drives one instance of the fuzz guest (which forwards each import's
// core arguments as they are) for TestWasiGPUFastWrite. Data goes at 0x100, the return
// area at 0x200 unless a test says otherwise. The instance's mutex is held by the test.
type fastWriteGuest struct {
	t *testing.T
	w *WasiGPUInstance
}

func (g fastWriteGuest) create(n int64) uint32 {
	g.t.Helper()
	if _, err := g.w.call(fuzzExport("buffer-create"), n, int32(0x200)); err != nil || g.w.mem()[0x200] != 0 {
		g.t.Fatalf("buffer-create(%d): %v, discriminant %d", n, err, g.w.mem()[0x200])
	}
	return cabi.Le32(g.w.mem()[0x204:])
}

// write calls buffer-write(h, off, data) with the return area at area and returns the
// result's discriminant (0 ok, 1 err) and, for err, the gpu-error case.
func (g fastWriteGuest) write(h uint32, off int64, data string, area int32) (disc, errCase byte, err error) {
	copy(g.w.mem()[0x100:], data)
	if _, err := g.w.call(fuzzExport("buffer-write"), int32(h), off, int32(0x100), int32(len(data)), area); err != nil {
		return 0, 0, err
	}
	m := g.w.mem()
	return m[area], m[area+4], nil
}

// device is buffer h's bytes on the device.
func (g fastWriteGuest) device(h uint32) []byte {
	g.t.Helper()
	e := g.w.table[h]
	out := make([]byte, e.bytes)
	if err := g.w.host.GPU().Read(e.id, 0, out); err != nil {
		g.t.Fatal(err)
	}
	return out
}

// TestWasiGPUFastWrite checks buffer-write's C fast path (off_gpu_fast_write in
// wasigpu_shim.c) against the Go import it short-cuts: a write with a cached handle and
// valid arguments completes without entering Go and lands on the device; a handle whose
// cache slot another took, a write outside the buffer, an empty one, a destroyed handle
// and a misaligned return area all go through Go, with its gpu-errors and traps.
func TestWasiGPUFastWrite(t *testing.T) {
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{})
	m := newFuzzModule(t, h)
	w, err := m.Instantiate()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	w.mu.Lock()
	defer w.mu.Unlock()
	g := fastWriteGuest{t, w}

	a := g.create(16)
	n0 := w.goImports
	if d, _, err := g.write(a, 4, "wxyz", 0x200); err != nil || d != 0 {
		t.Fatalf("write: %v, discriminant %d", err, d)
	}
	if w.goImports != n0 {
		t.Errorf("a valid write of a cached handle entered Go (%d import calls)", w.goImports-n0)
	}
	if got := g.device(a); !bytes.Equal(got[4:8], []byte("wxyz")) {
		t.Errorf("device bytes after the fast write: %q", got)
	}

	// Handles a+1 … a+256: the last takes a's cache slot.
	var last uint32
	for i := 0; i < wasiGPUCacheSlots; i++ {
		last = g.create(8)
	}
	if last != a+wasiGPUCacheSlots {
		t.Fatalf("handles: %d after %d", last, a)
	}
	n0 = w.goImports
	if d, _, err := g.write(a, 0, "abcd", 0x200); err != nil || d != 0 {
		t.Fatalf("write to the evicted handle: %v, discriminant %d", err, d)
	}
	if w.goImports != n0+1 {
		t.Errorf("the evicted handle's write: %d import calls in Go, want 1", w.goImports-n0)
	}
	if d, _, err := g.write(last, 2, "efgh", 0x200); err != nil || d != 0 {
		t.Fatalf("write to the slot's new handle: %v, discriminant %d", err, d)
	}
	if w.goImports != n0+1 {
		t.Errorf("the new handle's write entered Go")
	}
	if got := g.device(a); !bytes.Equal(got[:8], []byte("abcdwxyz")) {
		t.Errorf("device bytes of the evicted handle: %q", got)
	}
	if got := g.device(last); !bytes.Equal(got, []byte("\x00\x00efgh\x00\x00")) {
		t.Errorf("device bytes of the new handle: %q", got)
	}

	// gpu-errors come from Go.
	for _, c := range []struct {
		off  int64
		data string
		want gpuErrCase
	}{{14, "abcd", caseOutOfBounds}, {1 << 40, "abcd", caseOutOfBounds}, {-1, "abcd", caseOutOfBounds}, {0, "", caseZeroSize}} {
		n0 = w.goImports
		d, k, err := g.write(last, c.off, c.data, 0x200)
		if err != nil || d != 1 || gpuErrCase(k) != c.want {
			t.Errorf("write(off %d, %d bytes): %v, discriminant %d, case %d; want err case %d", c.off, len(c.data), err, d, k, c.want)
		}
		if w.goImports != n0+1 {
			t.Errorf("write(off %d, %d bytes) did not go through Go", c.off, len(c.data))
		}
	}

	// A destroyed handle leaves the cache: its write traps, as an unknown handle.
	if _, err := w.call(fuzzExport("buffer-destroy"), int32(last), int32(0x200)); err != nil || w.mem()[0x200] != 0 {
		t.Fatalf("buffer-destroy: %v, discriminant %d", err, w.mem()[0x200])
	}
	if s := w.cacheSlot(last); s.handle != 0 {
		t.Errorf("cache slot of the destroyed handle holds %d", s.handle)
	}
	if _, _, err := g.write(last, 0, "abcd", 0x200); err == nil || !strings.Contains(err.Error(), "unknown handle") {
		t.Errorf("write to a destroyed handle: %v, want a trap naming the unknown handle", err)
	}

	// A misaligned or out-of-memory return area traps (after the write, as in Go).
	for _, area := range []int32{0x201, fuzzMemBytes - 4} {
		w2, err := m.Instantiate()
		if err != nil {
			t.Fatal(err)
		}
		w2.mu.Lock()
		g2 := fastWriteGuest{t, w2}
		b := g2.create(8)
		if _, _, err := g2.write(b, 0, "abcd", area); err == nil || !strings.Contains(err.Error(), "return area") {
			t.Errorf("write with return area %d: %v, want a trap naming the return area", area, err)
		}
		w2.mu.Unlock()
		_ = w2.Close()
	}
}
