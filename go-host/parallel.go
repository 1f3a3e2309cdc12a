package offload

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// wasmtimeGoModule is the module path of the wasmtime-go this package imports.
const wasmtimeGoModule = "github.com/bytecodealliance/wasmtime-go/v39"

// wasmtimeGoChecked is the wasmtime-go version whose sources (memory.go, memorytype.go,
// linker.go, store.go, config.go) were read for ParallelForUnavailable: it wraps none of
// wasmtime_sharedmemory_*. TestParallelForIsSkippedWithTheReason fails when go.mod requires
// another version, until someone checks whether that one wraps SharedMemory (then the Go
// host can have parallel-for) and updates this constant.
const wasmtimeGoChecked = "v39.0.1"

// ParallelForUnavailable says why this Go host has no wasi-parallel parallel_for; it
// returns a non-nil error, one line, whose message is the reason (the benchmarks print it
// in their SKIP line). It takes no arguments and has no units.
//
// Why: the Rust host's parallel_for (host/src/parallel/) runs a guest built for
// wasm32-wasip1-threads, which imports one shared linear memory (`env.memory`), on a pool
// of worker threads, each with its own instance in its own Store, all over that same
// memory. That needs a memory that belongs to the engine rather than to one Store:
// wasmtime's SharedMemory. wasmtime's C API has it (wasmtime_sharedmemory_*, present in
// the libwasmtime.a wasmtime-go ships), but wasmtime-go v39 wraps none of it: its only
// memory constructor, NewMemory, makes a memory owned by one Store, and Linker.Define
// accepts only wasmtime-go's own externs.
//
// What it probes, with a real attempt rather than a version check: an engine with the
// threads proposal on (Config.SetWasmThreads(true)), a shared memory type of 1 to 16
// pages (NewMemoryType(1, true, 16, true)), and NewMemory(store, ty). wasmtime refuses a
// shared type there; the first line of its message ends the returned error. Should
// NewMemory ever accept it, the error says that such a memory still belongs to one Store,
// cannot be imported by instances in other goroutines' Stores, and that the Go host has
// no parallel-for, so the path stays skipped. Every wasmtime object it makes is closed
// before it returns (the memory, if any, with its Store).
func ParallelForUnavailable() error {
	version := wasmtimeGoVersion()
	cfg := wasmtime.NewConfig()
	cfg.SetWasmThreads(true)
	engine := wasmtime.NewEngineWithConfig(cfg) // takes cfg: nothing left to close
	defer engine.Close()
	store := wasmtime.NewStore(engine)
	defer store.Close()

	ty, err := wasmtime.NewMemoryType(1, true, 16, true)
	if err != nil {
		return fmt.Errorf("parallel-for on the Go host: wasmtime-go %s cannot make a shared memory type (NewMemoryType(1, true, 16, true): %s)",
			version, firstLine(err))
	}
	defer ty.Close()

	mem, err := wasmtime.NewMemory(store, ty)
	if err != nil {
		return fmt.Errorf("parallel-for on the Go host: wasmtime-go %s cannot share one linear memory between instances in separate stores "+
			"(no wrapper for wasmtime_sharedmemory_*; NewMemory of a shared type: %s)", version, firstLine(err))
	}
	_ = mem // owned by store, freed when it closes
	return fmt.Errorf("parallel-for on the Go host: wasmtime-go %s NewMemory accepted a shared type, but that memory belongs to one store "+
		"and cannot be imported by instances in other goroutines' stores; the Go host has no parallel-for, so it is skipped", version)
}

// wasmtimeGoVersion is the version of wasmtime-go linked in, from the build info, or
// wasmtimeGoChecked when the build info does not name it (as in a test binary).
func wasmtimeGoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wasmtimeGoModule {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version
				}
				if d.Version != "" {
					return d.Version
				}
			}
		}
	}
	return wasmtimeGoChecked
}

// firstLine is err's message up to its first newline (wasmtime appends a backtrace).
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
