// Tests of the canonical-ABI layouts against the sizes and offsets the wasi:gpu host
// used to hard-code, and of the memory checks.
package cabi

import (
	"reflect"
	"strings"
	"testing"
)

func TestLayouts(t *testing.T) {
	gpuError := Variant("gpu-error", String, String, String, String, String, String, String, String)
	info := Record("device-info", String, String, String, Option(U64), U64, Bool, Bool, Bool)
	for _, c := range []struct {
		t                    Type
		size, align, payload uint32
	}{
		{gpuError, 12, 4, 4},
		{Result(Unit, gpuError), 16, 4, 4},
		{Result(Handle("own<buffer>"), gpuError), 16, 4, 4},
		{Result(List(U8), gpuError), 16, 4, 4},
		{Result(F64, gpuError), 24, 8, 8},
		{Result(info, gpuError), 64, 8, 8},
		{Result(Unit, String), 12, 4, 4},
		{Result(F64, String), 16, 8, 8},
		{Result(Record("fit-info", U32, U32, String), String), 20, 4, 4},
		{Option(U64), 16, 8, 8},
	} {
		if c.t.Size() != c.size || c.t.Align() != c.align || c.t.PayloadOffset() != c.payload {
			t.Errorf("%s: size %d align %d payload %d; want %d %d %d", c.t.String(), c.t.Size(), c.t.Align(), c.t.PayloadOffset(), c.size, c.align, c.payload)
		}
	}
	// device-info's fields, as offsets of the return area (payload at 8).
	want := []uint32{8, 16, 24, 32, 48, 56, 57, 58}
	for i, w := range want {
		if got := 8 + info.FieldOffset(i); got != w {
			t.Errorf("device-info field %d at %d, want %d", i, got, w)
		}
	}
	if info.Size() != 56 || info.Align() != 8 {
		t.Errorf("device-info: size %d align %d", info.Size(), info.Align())
	}
}

func TestCoreSignature(t *testing.T) {
	gpuError := Variant("gpu-error", String, String)
	opt := Option(Handle("borrow<buffer>"))
	p, r, ret := CoreSignature([]Type{Enum("op", 4), opt, F64, U64}, ptr(Result(Unit, gpuError)))
	if want := []CoreType{CoreI32, CoreI32, CoreI32, CoreF64, CoreI64, CoreI32}; !reflect.DeepEqual(p, want) || r != nil || !ret {
		t.Errorf("params %v results %v retArea %v; want %v, none, true", p, r, ret, want)
	}
	p, r, ret = CoreSignature([]Type{Handle("own<buffer>")}, nil)
	if !reflect.DeepEqual(p, []CoreType{CoreI32}) || r != nil || ret {
		t.Errorf("resource-drop: %v %v %v", p, r, ret)
	}
	_, r, ret = CoreSignature(nil, &F64)
	if !reflect.DeepEqual(r, []CoreType{CoreF64}) || ret {
		t.Errorf("-> f64: results %v retArea %v", r, ret)
	}
	// A variant position joins its cases' core types.
	rf := Result(F64, String)
	if f := rf.Flat(); !reflect.DeepEqual(f, []CoreType{CoreI32, CoreI64, CoreI32}) {
		t.Errorf("result<f64, string> flattens to %v", f)
	}
}

func ptr(t Type) *Type { return &t }

func TestMemoryChecks(t *testing.T) {
	m := make([]byte, 64)
	PutString(m[0:], 16, 5)
	copy(m[16:], "hello")
	if s, err := LiftString(m, 0); err != nil || s != "hello" {
		t.Errorf("LiftString = %q, %v", s, err)
	}
	PutString(m[8:], 60, 8)
	if _, err := LiftString(m, 8); err == nil || !strings.Contains(err.Error(), "outside memory") {
		t.Errorf("string past the end: %v", err)
	}
	if _, err := LiftString(m, 60); err == nil {
		t.Error("string header past the end: no error")
	}
	PutString(m[24:], 18, 2)
	if _, err := LiftList(m, 24, 8, 8); err == nil || !strings.Contains(err.Error(), "misaligned") {
		t.Errorf("misaligned list: %v", err)
	}
	PutString(m[24:], 32, 4)
	if b, err := LiftList(m, 24, 8, 8); err != nil || len(b) != 32 {
		t.Errorf("list: %d bytes, %v", len(b), err)
	}
	r := Result(Unit, String)
	if _, err := Area(m, 2, &r); err == nil || !strings.Contains(err.Error(), "not 4-byte aligned") {
		t.Errorf("misaligned area: %v", err)
	}
	if _, err := Area(m, 56, &r); err == nil || !strings.Contains(err.Error(), "outside linear memory") {
		t.Errorf("area past the end: %v", err)
	}
	a, err := Area(m, 40, &r)
	if err != nil {
		t.Fatal(err)
	}
	PutString(r.SetCase(a, 1), 7, 9)
	if r.Case(a) != 1 || Le32(m[44:]) != 7 || Le32(m[48:]) != 9 {
		t.Errorf("err case stored as %v", m[40:52])
	}
}
