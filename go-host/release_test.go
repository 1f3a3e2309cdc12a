package offload

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// vmSize is this process's virtual address space in bytes (Linux /proc/self/status,
// VmSize); the test skips elsewhere.
func vmSize(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmSize:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("VmSize %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmSize in /proc/self/status")
	return 0
}

// reservation is a guest's linear-memory reservation seen by vmSize: wasmtime reserves
// 4 GiB plus guard pages for a 32-bit memory; half of that is enough to see it.
const reservation = 2 << 30

// checkReleased makes n instances, closes each, and fails when the address space grew by
// a reservation per instance: Close must free the store at once. With the garbage
// collector off, a store left to its finalizer stays reserved. The fuzzers found this: a
// host remaking vector instances after traps ran out of address space (mmap failed to
// reserve 0x104000000 bytes) within seconds.
func checkReleased(t *testing.T, n int, open func() (close func())) {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := vmSize(t)
	close := open()
	if grew := vmSize(t) - before; grew < reservation {
		t.Skipf("an instance grew the address space by %d bytes only (a reservation is not seen here)", grew)
	}
	close()
	for range n {
		open()()
	}
	if grew := vmSize(t) - before; grew >= reservation {
		t.Fatalf("%d instances made and closed left the address space %d MiB larger: Close did not free the store", n+1, grew>>20)
	}
}

func TestVectorCloseFreesTheStore(t *testing.T) {
	wasm, err := wasmtime.Wat2Wasm(fuzzVectorWAT)
	if err != nil {
		t.Fatal(err)
	}
	m, err := CompileWasmModule("release.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	checkReleased(t, 8, func() func() {
		w, err := m.Instantiate("release", FastCall)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.SumUnchecked(fuzzCapacity + 1); err == nil {
			t.Fatal("SumUnchecked past the capacity did not trap")
		}
		return func() {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestForestCloseFreesTheStore(t *testing.T) {
	path := forestGuestPath(t)
	checkReleased(t, 4, func() func() {
		g, err := LoadForestGuest(path)
		if err != nil {
			t.Fatal(err)
		}
		return g.Close
	})
}
