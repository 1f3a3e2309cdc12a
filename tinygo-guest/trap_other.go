//go:build !wasm && !tinygo

package main

// trap panics. This variant only exists so that the package builds, and its tests run,
// natively (GOARCH other than wasm); the guest itself is always built for wasm, where
// trap_gc.go / trap_tinygo.go execute a real `unreachable`.
func trap(top uintptr) {
	_ = top
	panic(errBadLen)
}
