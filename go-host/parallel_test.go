package offload

import (
	"os"
	"strings"
	"testing"
)

// TestParallelForIsSkippedWithTheReason: the Go host has no parallel-for, and the probe
// says why in one line naming parallel-for and the shared memory it cannot make. It fails
// if the probe ever returns nil, or if go.mod requires a wasmtime-go other than the one
// checked (wasmtimeGoChecked), so that a version that wraps SharedMemory is noticed.
func TestParallelForIsSkippedWithTheReason(t *testing.T) {
	err := ParallelForUnavailable()
	if err == nil {
		t.Fatal("ParallelForUnavailable returned nil: the Go host claims parallel-for but has none")
	}
	msg := err.Error()
	t.Logf("reason: %s", msg)
	for _, want := range []string{"parallel-for", "shared"} {
		if !strings.Contains(msg, want) {
			t.Errorf("reason %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("reason %q is more than one line (a SKIP line must be one)", msg)
	}

	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatalf("reading go.mod for the wasmtime-go version: %v", err)
	}
	required := ""
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if f1, ok := fieldAfter(f, wasmtimeGoModule); ok {
			required = f1
		}
	}
	if required == "" {
		t.Fatalf("go.mod does not require %s", wasmtimeGoModule)
	}
	if required != wasmtimeGoChecked {
		t.Errorf("go.mod requires wasmtime-go %s, the parallel-for probe was checked against %s: "+
			"see whether it now wraps wasmtime_sharedmemory_* (a memory shared between stores); "+
			"if so give the Go host parallel-for, else update wasmtimeGoChecked", required, wasmtimeGoChecked)
	}
}

// fieldAfter returns the field after name in f ("require name version" or "name version").
func fieldAfter(f []string, name string) (string, bool) {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == name {
			return f[i+1], true
		}
	}
	return "", false
}

// BenchmarkParallelFor stands for wasi-parallel's parallel_for, which the Rust host has
// and this one cannot (ParallelForUnavailable): it prints
// "SKIP parallel-for/wasmtime-go: <reason>" once for the report (benchSkip) and skips.
func BenchmarkParallelFor(b *testing.B) {
	err := ParallelForUnavailable()
	if err == nil {
		b.Fatal("ParallelForUnavailable returned nil but the Go host has no parallel-for")
	}
	benchSkip(b, "parallel-for/wasmtime-go", err.Error())
}
