// Package cabi is the part of the component model's Canonical ABI
// (component-model/design/mvp/CanonicalABI.md) that the Go wasi:gpu host needs to serve
// and call a wit-bindgen core module by hand: the size, alignment and flattening of WIT
// types, the core signature of a function (with its return-area pointer), the layout of
// a variant or result in a return area, and reading strings and lists from linear
// memory with the ABI's checks.
//
// It works on a core module's linear memory as a []byte and knows nothing of wasmtime
// or of wasi:gpu. Sizes, offsets and pointers are in bytes; list lengths are in
// elements. Its errors are plain messages (no guest or function name) that the caller
// turns into a trap or names.
package cabi

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// MaxFlatParams is the most core parameters a lowered function takes before its
// parameters travel in memory instead (not supported here: see CoreSignature).
const MaxFlatParams = 16

// MaxFlatResults is the most core results a lowered function returns before its result
// travels through a return area whose pointer is the last core parameter.
const MaxFlatResults = 1

// CoreType is a core WebAssembly value type, numbered as the C API's wasm_valkind_t.
type CoreType byte

// The core value types.
const (
	CoreI32 CoreType = 0
	CoreI64 CoreType = 1
	CoreF32 CoreType = 2
	CoreF64 CoreType = 3
)

// Type is the canonical-ABI shape of a WIT type: its size and alignment in linear
// memory (bytes), its flattening into core values, and the byte offsets of its parts
// (a record's fields; a variant's payload).
type Type struct {
	name  string
	size  uint32
	align uint32
	flat  []CoreType
	offs  []uint32 // record: field offsets; variant: [payload offset]
	disc  uint32   // variant: discriminant size in bytes (1, 2 or 4); 0 otherwise
	cases int      // enum or variant: number of cases
}

// Size is the type's size in linear memory, in bytes.
func (t *Type) Size() uint32 { return t.size }

// Align is the type's alignment in linear memory, in bytes.
func (t *Type) Align() uint32 { return t.align }

// Flat is the type's flattening into core values.
func (t *Type) Flat() []CoreType { return t.flat }

// String is the type in WIT notation.
func (t *Type) String() string { return t.name }

// Cases is the number of cases of an enum or variant (0 for other types).
func (t *Type) Cases() int { return t.cases }

// DiscSize is the size in bytes of a variant's discriminant (1, 2 or 4), the bytes
// SetCase writes; 0 for other types.
func (t *Type) DiscSize() uint32 { return t.disc }

func prim(name string, size uint32, core CoreType) Type {
	return Type{name: name, size: size, align: size, flat: []CoreType{core}}
}

// The WIT primitive types the wasi:gpu and forest hosts use; Unit is the absent payload of
// result<_, E> and of option's none.
var (
	Unit   = Type{name: "_", size: 0, align: 1}
	Bool   = prim("bool", 1, CoreI32)
	U8     = prim("u8", 1, CoreI32)
	U32    = prim("u32", 4, CoreI32)
	S32    = prim("s32", 4, CoreI32)
	U64    = prim("u64", 8, CoreI64)
	F32    = prim("f32", 4, CoreF32)
	F64    = prim("f64", 8, CoreF64)
	String = Type{name: "string", size: 8, align: 4, flat: []CoreType{CoreI32, CoreI32}}
)

// Handle is an own<resource> or borrow<resource> (name says which, e.g.
// "borrow<buffer>"): an i32 index into the instance's handle table.
func Handle(name string) Type { return prim(name, 4, CoreI32) }

// AlignTo rounds n up to a multiple of align (a power of two), in bytes.
func AlignTo(n, align uint32) uint32 { return (n + align - 1) / align * align }

// List is list<elem>: a (ptr, len) pair, len in elements.
func List(elem Type) Type {
	return Type{name: "list<" + elem.name + ">", size: 8, align: 4, flat: []CoreType{CoreI32, CoreI32}}
}

// Enum is an enum of n cases: its discriminant.
func Enum(name string, n int) Type {
	s := discSize(n)
	return Type{name: name, size: s, align: s, flat: []CoreType{CoreI32}, cases: n}
}

// Record is a record of the given field types, laid out in order, each at its own
// alignment.
func Record(name string, fields ...Type) Type {
	t := Type{name: name, align: 1}
	for _, f := range fields {
		t.size = AlignTo(t.size, f.align)
		t.offs = append(t.offs, t.size)
		t.size += f.size
		t.align = max(t.align, f.align)
		t.flat = append(t.flat, f.flat...)
	}
	t.size = AlignTo(t.size, t.align)
	return t
}

// FieldOffset is the byte offset of field i of a record.
func (t *Type) FieldOffset(i int) uint32 { return t.offs[i] }

// Variant is a variant with one case per type (Unit for a case without payload): a
// discriminant, then the payload at the alignment of the most aligned case.
func Variant(name string, cases ...Type) Type {
	t := Type{name: name, disc: discSize(len(cases)), cases: len(cases)}
	var size, align uint32 = 0, 1
	var flat []CoreType
	for _, c := range cases {
		size, align = max(size, c.size), max(align, c.align)
		for i, v := range c.flat {
			if i < len(flat) {
				flat[i] = join(flat[i], v)
			} else {
				flat = append(flat, v)
			}
		}
	}
	t.align = max(t.disc, align)
	t.offs = []uint32{AlignTo(t.disc, align)}
	t.size = AlignTo(t.offs[0]+size, t.align)
	t.flat = append([]CoreType{CoreI32}, flat...)
	return t
}

// Option is option<t>: case 0 none, case 1 some(t).
func Option(t Type) Type { return Variant("option<"+t.name+">", Unit, t) }

// Result is result<ok, err>: case 0 ok, case 1 err.
func Result(ok, err Type) Type {
	return Variant("result<"+ok.name+", "+err.name+">", ok, err)
}

// PayloadOffset is the byte offset of a variant's payload.
func (t *Type) PayloadOffset() uint32 { return t.offs[0] }

// discSize is the size in bytes of the discriminant of n cases.
func discSize(n int) uint32 {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// join is the core type of a variant position two cases flatten to.
func join(a, b CoreType) CoreType {
	switch {
	case a == b:
		return a
	case (a == CoreI32 && b == CoreF32) || (a == CoreF32 && b == CoreI32):
		return CoreI32
	}
	return CoreI64
}

// CoreSignature lowers a function of the given parameter types and result (nil for
// none) to its core signature. A result that flattens to more than MaxFlatResults
// values travels through a return area: retArea is set, its i32 pointer is the last
// core parameter and there are no core results. Parameters that flatten to more than
// MaxFlatParams values would travel in memory, which this package does not do: it
// panics (a host's declarations are static, so this is a programming error).
func CoreSignature(params []Type, result *Type) (coreParams, coreResults []CoreType, retArea bool) {
	for _, p := range params {
		coreParams = append(coreParams, p.flat...)
	}
	if len(coreParams) > MaxFlatParams {
		panic(fmt.Sprintf("cabi: %d flat parameters, over MaxFlatParams", len(coreParams)))
	}
	if result != nil {
		if len(result.flat) > MaxFlatResults {
			return append(coreParams, CoreI32), nil, true
		}
		coreResults = result.flat
	}
	return coreParams, coreResults, false
}

// Little-endian loads and stores, as linear memory is.
var le = binary.LittleEndian

// Le32 reads a u32 at b[0:4].
func Le32(b []byte) uint32 { return le.Uint32(b) }

// Le64 reads a u64 at b[0:8].
func Le64(b []byte) uint64 { return le.Uint64(b) }

// Put32 stores v at b[0:4].
func Put32(b []byte, v uint32) { le.PutUint32(b, v) }

// Put64 stores v at b[0:8].
func Put64(b []byte, v uint64) { le.PutUint64(b, v) }

// PutString stores a flattened string or list (ptr, len) at b[0:8].
func PutString(b []byte, ptr, n uint32) {
	Put32(b, ptr)
	Put32(b[4:], n)
}

// SetCase stores discriminant c of variant t at area[0:] and returns the payload's
// bytes, area[t.PayloadOffset():]. area must hold t.Size() bytes.
func (t *Type) SetCase(area []byte, c uint32) []byte {
	switch t.disc {
	case 1:
		area[0] = byte(c)
	case 2:
		le.PutUint16(area, uint16(c))
	default:
		Put32(area, c)
	}
	return area[t.offs[0]:]
}

// Case reads the discriminant of variant t at area[0:].
func (t *Type) Case(area []byte) uint32 {
	switch t.disc {
	case 1:
		return uint32(area[0])
	case 2:
		return uint32(le.Uint16(area))
	}
	return Le32(area)
}

// Span is m[ptr : ptr+n], checked against linear memory (what names the range in the
// error).
func Span(m []byte, what string, ptr, n uint32) ([]byte, error) {
	end := uint64(ptr) + uint64(n)
	if end > uint64(len(m)) {
		return nil, fmt.Errorf("%s [%d, %d) is outside linear memory of %d bytes", what, ptr, end, len(m))
	}
	return m[ptr:end], nil
}

// Area is the return area of type t at ptr: t.Size() bytes, checked for t's alignment
// and against linear memory.
func Area(m []byte, ptr uint32, t *Type) ([]byte, error) {
	if ptr%t.align != 0 {
		return nil, fmt.Errorf("return area %d is not %d-byte aligned", ptr, t.align)
	}
	return Span(m, "return area", ptr, t.size)
}

// LiftList reads the (ptr, len) pair of a list at addr of m (ptr at addr, len in
// elements at addr+4) and returns the list's bytes, checked as the ABI's lift_list
// does: ptr aligned to align, the len·elemSize bytes inside m. The slice aliases m.
func LiftList(m []byte, addr, elemSize, align int) ([]byte, error) {
	if addr < 0 || addr+8 > len(m) {
		return nil, fmt.Errorf("list header at %d outside memory of %d bytes", addr, len(m))
	}
	p, n := uint64(Le32(m[addr:])), uint64(Le32(m[addr+4:]))
	end := p + n*uint64(elemSize)
	if p%uint64(align) != 0 || end > uint64(len(m)) {
		return nil, fmt.Errorf("a list at %d of %d elements of %d bytes (align %d), misaligned or outside memory of %d bytes", p, n, elemSize, align, len(m))
	}
	return m[p:end], nil
}

// LiftString reads the (ptr, len) pair of a string at addr of m and returns the string,
// checked to lie inside m and to be UTF-8 (the host's string encoding).
func LiftString(m []byte, addr int) (string, error) {
	if addr < 0 || addr+8 > len(m) {
		return "", fmt.Errorf("string header at %d outside memory of %d bytes", addr, len(m))
	}
	p, n := uint64(Le32(m[addr:])), uint64(Le32(m[addr+4:]))
	if p+n > uint64(len(m)) {
		return "", fmt.Errorf("a string at %d of %d bytes outside memory of %d bytes", p, n, len(m))
	}
	s := string(m[p : p+n])
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("a string that is not UTF-8")
	}
	return s, nil
}
