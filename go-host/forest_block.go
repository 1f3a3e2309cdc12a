// Blocks of the forest guest's linear memory: allocated through its forest_alloc
// export, checked on the host side, filled with the host's inputs, freed with forest_free.

package offload

import (
	"encoding/binary"
	"fmt"
	"math"
)

// block is a region from forest_alloc: offset and size in bytes.
type block struct{ ptr, bytes int32 }

// allocBlock asks the guest for bytes bytes and checks the offset it returns: positive,
// 8-byte aligned, the whole block inside linear memory.
func (g *ForestGuest) allocBlock(op string, bytes int) (block, error) {
	if bytes <= 0 || bytes > math.MaxInt32 {
		return block{}, fmt.Errorf("%s: %d bytes cannot be allocated through the forest ABI (1 … 2^31-1)", op, bytes)
	}
	p, err := g.call("forest_alloc", func(fi *forestInstance) (int32, error) {
		return fi.callI32(fi.alloc, int32(bytes))
	})
	if err != nil {
		return block{}, err
	}
	if p == 0 {
		return block{}, &ForestGuestError{Export: "forest_alloc", Code: ForestErrOOM, Msg: fmt.Sprintf("%s: forest_alloc(%d) failed: %s", op, bytes, g.lastError())}
	}
	size := len(g.live.mem.UnsafeData(g.live.store))
	switch {
	case p < 0:
		return block{}, fmt.Errorf("%s: forest_alloc(%d) returned %d: negative offset", op, bytes, p)
	case p%8 != 0:
		return block{}, fmt.Errorf("%s: forest_alloc(%d) returned %d: not 8-byte aligned", op, bytes, p)
	case int(p)+bytes > size:
		return block{}, fmt.Errorf("%s: forest_alloc(%d) returned %d: the block ends past linear memory (%d bytes)", op, bytes, p, size)
	}
	return block{p, int32(bytes)}, nil
}

// release frees a block; a failure is ignored (the block leaks inside the sandbox, and
// after a trap its instance is gone anyway).
func (g *ForestGuest) release(b block) {
	if g.live != nil {
		g.live.callFree(b.ptr, b.bytes)
	}
}

// putF32 allocates a block and copies v into it (little-endian, as wasm).
func (g *ForestGuest) putF32(op string, v []float32) (block, error) {
	b, err := g.allocBlock(op, 4*len(v))
	if err != nil {
		return block{}, err
	}
	dst := g.live.mem.UnsafeData(g.live.store)[b.ptr : int(b.ptr)+4*len(v)]
	for i, x := range v {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
	}
	return b, nil
}

// putF64 allocates a block and copies v into it.
func (g *ForestGuest) putF64(op string, v []float64) (block, error) {
	b, err := g.allocBlock(op, 8*len(v))
	if err != nil {
		return block{}, err
	}
	copy(bytesAsF64(g.live.mem.UnsafeData(g.live.store)[b.ptr:int(b.ptr)+8*len(v)]), v)
	return b, nil
}

// toI32 converts a count or hyperparameter to the ABI's i32.
func toI32(what string, v int) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("%s = %d does not fit the forest ABI's i32", what, v)
	}
	return int32(v), nil
}
