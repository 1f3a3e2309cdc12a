package offload

import (
	"os"
	"sync"
	"testing"
)

// guestFixture is a guest module the tests load: where it is (an environment variable
// overrides the default), what a missing module does to the test, and the module compiled
// once per wasi:gpu host.
type guestFixture struct {
	env     string // the environment variable that overrides def
	def     string // the module's default path, relative to go-host/
	skip    bool   // a missing module skips the test (else fails it)
	missing string // what a missing module says; its one %v is the stat error

	mu   sync.Mutex
	mods map[*WasiGPUHost]*WasiGPUModule
}

// path is the guest's module: $env, else def. A missing module skips or fails the test
// with f.missing.
func (f *guestFixture) path(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv(f.env)
	if p == "" {
		p = f.def
	}
	if _, err := os.Stat(p); err != nil {
		if f.skip {
			tb.Skipf(f.missing, err)
		}
		tb.Fatalf(f.missing, err)
	}
	return p
}

// instantiate instantiates the guest on h, compiling it once per host; the caller closes
// the instance.
func (f *guestFixture) instantiate(tb testing.TB, h *WasiGPUHost) *WasiGPUInstance {
	tb.Helper()
	path := f.path(tb)
	f.mu.Lock()
	m := f.mods[h]
	if m == nil {
		var err error
		if m, err = h.Compile(path); err != nil {
			f.mu.Unlock()
			tb.Fatal(err)
		}
		if f.mods == nil {
			f.mods = map[*WasiGPUHost]*WasiGPUModule{}
		}
		f.mods[h] = m
	}
	f.mu.Unlock()
	w, err := m.Instantiate()
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// forestGPU instantiates the guest (a forest-gpu world guest) on h as a ForestGPUGuest,
// closed at the end of the test.
func (f *guestFixture) forestGPU(tb testing.TB, h *WasiGPUHost) *ForestGPUGuest {
	tb.Helper()
	w := f.instantiate(tb, h)
	g, err := NewForestGPUGuest(w)
	if err != nil {
		_ = w.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	return g
}
