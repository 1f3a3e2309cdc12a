package offload

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// The guest FuzzWasiGPUImports drives: a hand-written core module that imports every
// wasi:gpu function the host declares and exports "call-<i>" for import i, with the
// import's own core signature, which just forwards its arguments, so the fuzzer can
// call any import with any argument slots. Its cabi_realloc is a bump allocator over
// [fuzzHeap, fuzzMemBytes) that wraps around (it never traps), and its memory has
// fixed size (no memory.grow), so the fuzzer knows the bounds the host checks against.

const (
	fuzzMemBytes = 4 * 65536 // the guest's linear memory
	fuzzHeap     = 65536     // cabi_realloc hands out blocks above this
	fuzzMaxBytes = 64 << 10  // the host's byte quota: every buffer and read fits the heap
	fuzzMaxBufs  = 8         // the host's buffer quota
)

// Argument slot kinds of the fuzzed imports (one per core parameter).
const (
	slotHandle = 'h' // borrow<buffer> read by the import
	slotOut    = 'w' // borrow<buffer> the import writes (a kernel's output)
	slotOwn    = 'o' // own<buffer> the import consumes
	slotEnum   = 'e' // an enum; its case count is in fuzzEnumCases
	slotOpt    = 'O' // option<borrow<buffer>> discriminant; the next slot is its payload
	slotPtr    = 'p' // list<u8> pointer; the next slot is its length ('n')
	slotLen    = 'n'
	slotU32    = 'u'
	slotU64    = 'U'
	slotF64    = 'F'
	slotArea   = 'r' // the return area
)

// fuzzSlots gives the slot kinds of each import's core parameters, by WIT name;
// TestWasiGPUFuzzGuest checks them against the declarations' core signatures.
var fuzzSlots = map[string]string{
	"buffer-create":           "Ur",
	"buffer-write":            "hUpnr",
	"buffer-read":             "hUUr",
	"buffer-copy":             "hUwUUr",
	"buffer-destroy":          "or",
	"sync":                    "r",
	"get-device-info":         "r",
	"[resource-drop]buffer":   "o",
	"kernel-reduce":           "eehUr",
	"kernel-elementwise":      "eehOhFwUr",
	"kernel-matmul":           "ehhwuuur",
	"kernel-bootstrap-sample": "Uuuuwr",
	"kernel-find-split":       "hhhhhhwuuuuur",
	"kernel-average":          "ehuuwr",
	"kernel-batch-predict":    "ehhhhhhuuuhuwr",
}

// fuzzEnumCases is the case count of each import's enum slots, in order.
var fuzzEnumCases = map[string][]int{
	"kernel-reduce":        {reduceOpT.Cases(), dtypeT.Cases()},
	"kernel-elementwise":   {elementwiseOpT.Cases(), dtypeT.Cases()},
	"kernel-matmul":        {matmulPrecision.Cases()},
	"kernel-average":       {dtypeT.Cases()},
	"kernel-batch-predict": {dtypeT.Cases()},
}

// fuzzGuestWAT is the fuzz guest's text.
func fuzzGuestWAT() string {
	core := map[cabi.CoreType]string{cabi.CoreI32: "i32", cabi.CoreI64: "i64", cabi.CoreF32: "f32", cabi.CoreF64: "f64"}
	var sb strings.Builder
	sb.WriteString("(module\n")
	for i, d := range wasiGPUImports {
		var ps []string
		for _, p := range d.coreParams {
			ps = append(ps, core[p])
		}
		fmt.Fprintf(&sb, "  (import %q %q (func $i%d (param %s)))\n", d.module, d.name, i, strings.Join(ps, " "))
	}
	fmt.Fprintf(&sb, "  (memory (export \"memory\") %d %d)\n", fuzzMemBytes/65536, fuzzMemBytes/65536)
	fmt.Fprintf(&sb, "  (global $bump (mut i32) (i32.const %d))\n", fuzzHeap)
	fmt.Fprintf(&sb, `  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (local.get $p) (local.get 3)) (i32.const %d))
      (then (local.set $p (i32.const %d))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
`, fuzzMemBytes, fuzzHeap)
	for i, d := range wasiGPUImports {
		var ps, gets []string
		for j, p := range d.coreParams {
			ps = append(ps, core[p])
			gets = append(gets, fmt.Sprintf("(local.get %d)", j))
		}
		fmt.Fprintf(&sb, "  (func (export \"call-%d\") (param %s) (call $i%d %s))\n", i, strings.Join(ps, " "), i, strings.Join(gets, " "))
	}
	sb.WriteString(")\n")
	return sb.String()
}

// newFuzzModule compiles the fuzz guest on h.
func newFuzzModule(tb testing.TB, h *WasiGPUHost) *WasiGPUModule {
	tb.Helper()
	wasm, err := wasmtime.Wat2Wasm(fuzzGuestWAT())
	if err != nil {
		tb.Fatal(err)
	}
	m, err := compileFuzzModule(h, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// compileFuzzModule compiles guest bytes on h (through a temporary file: Compile takes
// a path).
func compileFuzzModule(h *WasiGPUHost, wasm []byte) (*WasiGPUModule, error) {
	f, err := os.CreateTemp("", "fuzz-guest-*.wasm")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(wasm); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return h.Compile(f.Name())
}

// TestWasiGPUFuzzGuest checks the fuzz guest's slot table against the declarations and
// that the guest compiles and instantiates.
func TestWasiGPUFuzzGuest(t *testing.T) {
	for _, d := range wasiGPUImports {
		slots, ok := fuzzSlots[d.name]
		if !ok || len(slots) != len(d.coreParams) {
			t.Errorf("%s: slots %q for %d core parameters", d.name, slots, len(d.coreParams))
		}
		if d.retArea != strings.HasSuffix(slots, "r") {
			t.Errorf("%s: return area %v, slots %q", d.name, d.retArea, slots)
		}
		if n := strings.Count(slots, "e"); n != len(fuzzEnumCases[d.name]) {
			t.Errorf("%s: %d enum slots, %d case counts", d.name, n, len(fuzzEnumCases[d.name]))
		}
	}
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{MaxBytes: fuzzMaxBytes, MaxBuffers: fuzzMaxBufs})
	w, err := newFuzzModule(t, h).Instantiate()
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
}
