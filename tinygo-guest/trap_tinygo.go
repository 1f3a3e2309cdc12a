//go:build tinygo

package main

// trap aborts the call. scripts/build-go-guest.sh builds with TinyGo's -panic=trap, under
// which a panic compiles to a wasm `unreachable` instruction, so the host sees a trap.
// top (the Go-port stack-pointer fix-up, see trap_gc.go) has no meaning under TinyGo and
// is ignored. This TinyGo path is untested: tinygo was not available where it was
// written. It never returns.
func trap(top uintptr) {
	_ = top
	panic(errBadLen)
}
