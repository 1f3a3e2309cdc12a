//go:build wasm && !tinygo

package main

// trap sets Go's stack pointer to top and executes a WebAssembly `unreachable`
// instruction (implemented in trap_wasm.s), so the host sees a trap rather than a Go
// panic (which would print to stderr and call WASI proc_exit(2), ending the instance).
// It never returns.
//
// Why top: Go's wasm port keeps its stack pointer in a wasm global, and the
// //go:wasmexport wrapper lowers it on entry and raises it again only on a normal
// return. A trap unwinds the wasm call stack but not that global, so without the reset
// every trap would leak the trapped call's frames (48 bytes for sum) from the goroutine
// stack, which Go then grows by copying (measured under node: ~16 MiB of linear memory
// per 100000 traps). top is the pointer's value before the host's call (see frameTop),
// so the instance is left exactly as a successful call leaves it.
func trap(top uintptr)
