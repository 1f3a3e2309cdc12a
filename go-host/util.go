package offload

import "unsafe"

// bytesAsF64 views b (length a multiple of 8, 8-byte aligned) as float64s.
func bytesAsF64(b []byte) []float64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), len(b)/8)
}
