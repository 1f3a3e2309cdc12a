package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// FuzzWasiGPUImports calls the wasi:gpu imports of the Go host (cpu backend) in random
// sequences with random arguments — handles live, destroyed, small or random; enum and
// option discriminants in and out of range; list pointers and lengths inside and outside
// linear memory; return areas aligned, misaligned or out of bounds; sizes and offsets at
// the edges of u64 — through the fuzz guest (wasigpu_fuzzguest_test.go). The oracle, a
// model of the instance kept beside it:
//   - no Go panic, and no panic recovered into a trap ("host panic");
//   - a call traps exactly when the canonical ABI says (a handle the instance does not
//     own, a discriminant out of range, a list or return area outside memory or
//     misaligned), so another instance's handle or a destroyed one is never accepted;
//   - every other call stores ok or err(gpu-error) in its return area, the error a
//     defined case with a message inside memory;
//   - buffer-create never hands out a handle twice in one instance, and the instance's
//     buffer count and bytes match the live handles;
//   - buffer-read returns exactly the bytes this instance wrote (zero where it wrote
//     nothing); from a kernel's output buffer, at least never a byte pattern held by
//     another instance (the bystander), whose buffer stays intact;
//   - after a trap, Close frees every device buffer of the instance and a fresh instance
//     works.
func FuzzWasiGPUImports(f *testing.F) {
	for _, s := range wasiGPUSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := wasiGPUFuzzFixture(t)
		s := newImportSession(t, fx)
		r := &fuzzReader{b: data}
		for op := 0; op < 48 && r.more(); op++ {
			s.step(r)
		}
		s.finish()
		got := make([]byte, len(fuzzSecret))
		if err := fx.host.GPU().Read(fx.secretID, 0, got); err != nil || !bytes.Equal(got, fuzzSecret) {
			t.Fatalf("the bystander's buffer after the sequence: %q, %v", got, err)
		}
	})
}

// fuzzSlowCall is the longest an import call may take: with buffers of at most
// fuzzMaxBytes, anything slower is work the host should have refused.
const fuzzSlowCall = 2 * time.Second

// fuzzSecret is what the bystander instance holds on the device.
var fuzzSecret = []byte("offload-fuzz-secret:another-inst")

// wasiGPUSeeds are hand-made sequences in importSession.step's encoding: two buffers of
// 64 bytes created, then one call of each import with valid arguments (handles of the
// two buffers, offsets and sizes 16, a list of 16 bytes), then the buffers destroyed;
// and a few degenerate inputs.
func wasiGPUSeeds() [][]byte {
	create := []byte{0, 64, 0, 0x00, 0x10, 2} // buffer-create(64), return area 4096
	var seeds [][]byte
	for i, d := range wasiGPUImports {
		s := append(append([]byte{}, create...), create...)
		s = append(s, byte(i))
		h := byte(0)
		for _, k := range fuzzSlots[d.name] {
			switch k {
			case slotHandle, slotOut, slotOwn:
				s = append(s, h)
				h ^= 1
			case slotEnum:
				s = append(s, 0)
			case slotOpt:
				s = append(s, 3) // some
			case slotPtr:
				s = append(s, 0x00, 0x01, 16, 2) // [256, +16)
			case slotU32:
				s = append(s, 16) // 4
			case slotU64:
				s = append(s, 16, 0) // 16
			case slotF64:
				s = append(s, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f) // 1.0
			case slotArea:
				s = append(s, 0x00, 0x10, 2)
			}
		}
		destroy := byte(wasiGPUImportIndex[WasiGPUComputeModule+"#buffer-destroy"])
		s = append(s, destroy, 0, 0x00, 0x10, 2, destroy, 0, 0x00, 0x10, 2)
		seeds = append(seeds, s)
	}
	return append(seeds, []byte{}, []byte{7, 0xff, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0xff}, 64))
}

// wasiGPUFuzz is the fuzz target's fixture, made once per process: the host (cpu
// backend, quotas fuzzMaxBytes and fuzzMaxBufs), the compiled fuzz guest and a
// bystander instance holding fuzzSecret in a device buffer.
type importFixture struct {
	once      sync.Once
	err       error
	host      *WasiGPUHost
	mod       *WasiGPUModule
	bystander *WasiGPUInstance
	secretID  GPUBuffer
	pattern   []byte // what each fuzzed instance's low memory is filled with
}

var wasiGPUFuzz importFixture

func wasiGPUFuzzFixture(t *testing.T) *importFixture {
	fx := &wasiGPUFuzz
	fx.once.Do(func() { fx.err = fx.setup() })
	if fx.err != nil {
		t.Fatal(fx.err)
	}
	return fx
}

func (fx *importFixture) setup() error {
	g, why := openShared("cpu")
	if g == nil {
		return errors.New(why)
	}
	h, err := NewWasiGPUHost(g, WasiGPUOptions{MaxBytes: fuzzMaxBytes, MaxBuffers: fuzzMaxBufs})
	if err != nil {
		return err
	}
	wasm, err := wasmtime.Wat2Wasm(fuzzGuestWAT())
	if err != nil {
		return err
	}
	if fx.mod, err = compileFuzzModule(h, wasm); err != nil {
		return err
	}
	fx.host = h
	if fx.bystander, err = fx.mod.Instantiate(); err != nil {
		return err
	}
	b := fx.bystander
	b.mu.Lock()
	defer b.mu.Unlock()
	copy(b.mem()[0x100:], fuzzSecret)
	n := int64(len(fuzzSecret))
	if _, err := b.call(fuzzExport("buffer-create"), n, int32(0x200)); err != nil {
		return err
	}
	hdl := cabi.Le32(b.mem()[0x204:])
	if _, err := b.call(fuzzExport("buffer-write"), int32(hdl), int64(0), int32(0x100), int32(n), int32(0x200)); err != nil || b.mem()[0x200] != 0 {
		return fmt.Errorf("bystander's write: %v, discriminant %d", err, b.mem()[0x200])
	}
	fx.secretID = b.table[hdl].id
	x := uint32(0x9e3779b9)
	fx.pattern = make([]byte, fuzzHeap)
	for i := range fx.pattern {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		fx.pattern[i] = byte(x >> 24)
	}
	return nil
}

// fuzzExport is the fuzz guest's export that forwards to the import named name.
func fuzzExport(name string) string {
	return fmt.Sprintf("call-%d", wasiGPUImportIndex[WasiGPUComputeModule+"#"+name])
}

// fuzzReader hands out the fuzz input's bytes; past the end, zeros.
type fuzzReader struct {
	b []byte
	i int
}

func (r *fuzzReader) more() bool { return r.i < len(r.b) }

func (r *fuzzReader) byte() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *fuzzReader) u16() uint16 { return uint16(r.byte()) | uint16(r.byte())<<8 }
func (r *fuzzReader) u32() uint32 { return uint32(r.u16()) | uint32(r.u16())<<16 }
func (r *fuzzReader) u64() uint64 { return uint64(r.u32()) | uint64(r.u32())<<32 }

// fuzzBuf is the model of one live buffer: its bytes as this instance wrote them, or
// tainted once a kernel wrote it.
type fuzzBuf struct {
	data    []byte
	tainted bool
}

// importSession is one fuzzed instance and its model.
type importSession struct {
	t      *testing.T
	fx     *importFixture
	w      *WasiGPUInstance
	live   map[uint32]*fuzzBuf
	issued []uint32 // every handle buffer-create returned, in order
	seen   map[uint32]bool
	calls  int
	// outcomes counts the calls per import and outcome ("ok", "err", "trap").
	outcomes map[string]int
}

// newImportSession instantiates the fuzz guest and fills its low memory with the pattern.
func newImportSession(t *testing.T, fx *importFixture) *importSession {
	s := &importSession{t: t, fx: fx, outcomes: map[string]int{}}
	s.start()
	return s
}

func (s *importSession) start() {
	w, err := s.fx.mod.Instantiate()
	if err != nil {
		s.t.Fatalf("a fresh instance: %v", err)
	}
	s.w = w
	copy(w.mem(), s.fx.pattern)
	s.live, s.issued, s.seen = map[uint32]*fuzzBuf{}, nil, map[uint32]bool{}
	// Two buffers to start with (64 and 256 bytes), made through the import itself.
	s.step(&fuzzReader{b: []byte{0, 64, 0, 0x00, 0x10, 2}})
	s.step(&fuzzReader{b: []byte{0, 0x00, 1, 0x00, 0x10, 2}})
	if len(s.live) != 2 {
		s.t.Fatalf("the first two buffers: %d live", len(s.live))
	}
}

// finish closes the instance and checks that every buffer it held is gone from the device.
func (s *importSession) finish() {
	w := s.w
	w.mu.Lock()
	var ids []GPUBuffer
	for _, e := range w.table {
		ids = append(ids, e.id)
	}
	w.mu.Unlock()
	if err := w.Close(); err != nil {
		s.t.Fatalf("Close: %v", err)
	}
	for _, id := range ids {
		if _, err := s.fx.host.GPU().BufferSize(id); !errors.Is(err, GPUInvalidHandle) {
			s.t.Fatalf("device buffer %d still there after Close: %v", id, err)
		}
	}
}

// handle picks a handle argument: mostly a live one, else one issued before (maybe
// destroyed), a small number or any u32.
func (s *importSession) handle(r *fuzzReader) uint32 {
	b := r.byte()
	if b < 200 && len(s.issued) > 0 {
		var live []uint32
		for _, h := range s.issued {
			if s.live[h] != nil {
				live = append(live, h)
			}
		}
		if b < 180 && len(live) > 0 {
			return live[int(b)%len(live)]
		}
		return s.issued[int(b)%len(s.issued)]
	}
	if b < 245 {
		return uint32(b % 6)
	}
	return r.u32()
}

// u64 picks a size or offset: small, at the quota, at a live buffer's size, near 2^63 or
// 2^64, or any.
func (s *importSession) u64(r *fuzzReader) uint64 {
	k := uint64(r.byte())
	switch b := r.byte() % 10; b {
	case 0, 8, 9:
		return k % 80
	case 1:
		return uint64(r.u16())
	case 2:
		return 8 * (k % 16)
	case 3:
		return fuzzMaxBytes + k%3 - 1
	case 4:
		return 1<<63 + k%3 - 1
	case 5:
		return math.MaxUint64 - k%4
	case 6:
		for _, buf := range s.live {
			return uint64(len(buf.data)) + k%3 - 1
		}
	}
	return r.u64()
}

// u32 picks a count: small, a u16, near 2^32, or any.
func (s *importSession) u32(r *fuzzReader) uint32 {
	switch b := r.byte(); b % 4 {
	case 0, 1:
		return uint32(b/4) % 20
	case 2:
		return uint32(r.u16())
	default:
		return math.MaxUint32 - uint32(b/4)%3
	}
}

// step decodes and runs one import call, then checks it against the model.
func (s *importSession) step(r *fuzzReader) {
	i := int(r.byte()) % len(wasiGPUImports)
	d := &wasiGPUImports[i]
	slots := fuzzSlots[d.name]
	args := make([]interface{}, len(slots))
	handles := make([]uint32, len(slots)) // the handle of each handle slot
	wantTrap := false
	var why []string
	enum, area := 0, uint32(0)
	var src []byte // buffer-write's data, as in memory when the call starts
	var srcAt, srcLen uint32
	hasSrc := false
	m := s.w.mem()
	for j := 0; j < len(slots); j++ {
		switch slots[j] {
		case slotHandle, slotOut, slotOwn:
			h := s.handle(r)
			args[j], handles[j] = int32(h), h
			if s.live[h] == nil {
				wantTrap, why = true, append(why, fmt.Sprintf("handle %d", h))
			}
		case slotEnum:
			n := fuzzEnumCases[d.name][enum]
			enum++
			v := uint32(r.byte())
			switch {
			case v < 240:
				v %= uint32(n)
			case v >= 250:
				v = r.u32()
			}
			args[j] = int32(v)
			if v >= uint32(n) {
				wantTrap, why = true, append(why, fmt.Sprintf("enum %d of %d", v, n))
			}
		case slotOpt:
			disc := uint32(0)
			switch b := r.byte() % 8; {
			case b >= 3 && b < 7:
				disc = 1
			case b == 7:
				disc = r.u32() | 2
			}
			h := s.handle(r)
			args[j], args[j+1], handles[j+1] = int32(disc), int32(h), h
			if disc > 1 || (disc == 1 && s.live[h] == nil) {
				wantTrap, why = true, append(why, fmt.Sprintf("option %d handle %d", disc, h))
			}
			if disc != 1 {
				handles[j+1] = 0
			}
			j++
		case slotPtr:
			p, n := uint32(r.u16()), uint32(r.byte())
			switch r.byte() % 8 {
			case 0:
				n = uint32(r.u16())
			case 1:
				p, n = r.u32(), r.u32()
			}
			args[j], args[j+1] = int32(p), int32(n)
			if uint64(p)+uint64(n) > fuzzMemBytes {
				wantTrap, why = true, append(why, fmt.Sprintf("list [%d, +%d)", p, n))
			} else {
				srcAt, srcLen, hasSrc = p, n, true
			}
			j++
		case slotU32:
			args[j] = int32(s.u32(r))
		case slotU64:
			args[j] = int64(s.u64(r))
		case slotF64:
			args[j] = math.Float64frombits(r.u64())
		case slotArea:
			area = uint32(r.u16()) &^ 7
			switch r.byte() % 16 {
			case 0:
				area = r.u32()
			case 1:
				area = fuzzMemBytes - uint32(r.byte())
			}
			args[j] = int32(area)
			if area%d.result.Align() != 0 || uint64(area)+uint64(d.result.Size()) > fuzzMemBytes {
				wantTrap, why = true, append(why, fmt.Sprintf("area %d", area))
			} else {
				for k := range d.result.Size() {
					m[area+k] = 0xAA // the host must overwrite the discriminant
				}
			}
		}
	}
	// The list's bytes as the host sees them: taken after the return area was filled,
	// since a list may overlap it (the host lifts the arguments before it writes the
	// result).
	if hasSrc {
		src = append([]byte(nil), m[srcAt:srcAt+srcLen]...)
	}
	s.calls++
	s.w.mu.Lock()
	desc := fmt.Sprintf("call %d: %s%v", s.calls, d.name, args)
	begin := time.Now()
	// A call that never returns ends the process (the fuzzer keeps its input).
	hung := time.AfterFunc(5*fuzzSlowCall, func() { panic(desc + ": still running after " + (5 * fuzzSlowCall).String()) })
	_, err := s.w.call(fmt.Sprintf("call-%d", i), args...)
	hung.Stop()
	took := time.Since(begin)
	s.w.mu.Unlock()
	if took > fuzzSlowCall {
		s.t.Fatalf("%s: took %v (every buffer is at most %d bytes)", desc, took, fuzzMaxBytes)
	}
	var te *TrapError
	if err != nil && !errors.As(err, &te) {
		s.t.Fatalf("%s: an error that is no trap: %v", desc, err)
	}
	if te != nil {
		if strings.Contains(te.Msg, "panic") {
			s.t.Fatalf("%s: the host panicked: %v", desc, err)
		}
		if !wantTrap {
			s.t.Fatalf("%s: trapped with valid arguments: %v", desc, err)
		}
		s.outcomes[d.name+" trap"]++
		s.finish() // a trapped instance refuses calls: start a fresh one
		s.start()
		return
	}
	if wantTrap {
		s.t.Fatalf("%s: accepted %v, which must trap", desc, why)
	}
	s.check(d, slots, args, handles, area, src)
}

// check verifies a call that did not trap and applies it to the model.
func (s *importSession) check(d *importDecl, slots string, args []interface{}, handles []uint32, area uint32, src []byte) {
	desc := fmt.Sprintf("call %d: %s%v", s.calls, d.name, args)
	for j, k := range slots {
		if k == slotOut {
			s.live[handles[j]].tainted = true
		}
	}
	m := s.w.mem()
	ok := true
	if d.result != nil {
		a := m[area : area+d.result.Size()]
		po := d.result.PayloadOffset()
		switch a[0] {
		case 0:
		case 1:
			ok = false
			c := gpuErrorT.Case(a[po:])
			msg, err := cabi.LiftString(m, int(area+po+gpuErrorT.PayloadOffset()))
			if int(c) >= len(gpuErrors) || err != nil || msg == "" {
				s.t.Fatalf("%s: gpu-error case %d, message %q, %v", desc, c, msg, err)
			}
		default:
			s.t.Fatalf("%s: result discriminant %d", desc, a[0])
		}
		if ok {
			s.applyOK(desc, d.name, args, handles, area+po, src)
			s.outcomes[d.name+" ok"]++
		} else {
			s.outcomes[d.name+" err"]++
		}
	} else {
		s.applyOK(desc, d.name, args, handles, 0, src)
		s.outcomes[d.name+" ok"]++
	}
	n, total := s.w.Buffers()
	var want uint64
	for _, b := range s.live {
		want += uint64(len(b.data))
	}
	if n != len(s.live) || total != want {
		s.t.Fatalf("%s: instance holds %d buffers, %d bytes; the model %d, %d", desc, n, total, len(s.live), want)
	}
}

// applyOK applies an ok outcome (payload at addr) to the model and checks it.
func (s *importSession) applyOK(desc, name string, args []interface{}, handles []uint32, addr uint32, src []byte) {
	m := s.w.mem()
	u64 := func(j int) uint64 { return uint64(args[j].(int64)) }
	switch name {
	case "buffer-create":
		h, n := cabi.Le32(m[addr:]), u64(0)
		if h == 0 || s.seen[h] || n > fuzzMaxBytes {
			s.t.Fatalf("%s: handle %d (seen before: %v) for %d bytes", desc, h, s.seen[h], n)
		}
		s.seen[h] = true
		s.issued = append(s.issued, h)
		s.live[h] = &fuzzBuf{data: make([]byte, n)}
	case "buffer-write":
		b, off := s.live[handles[0]], u64(1)
		if off > uint64(len(b.data)) || uint64(len(src)) > uint64(len(b.data))-off {
			s.t.Fatalf("%s: wrote %d bytes at %d into a buffer of %d", desc, len(src), off, len(b.data))
		}
		copy(b.data[off:], src)
	case "buffer-copy":
		sb, db := s.live[handles[0]], s.live[handles[2]]
		so, do, n := u64(1), u64(3), u64(4)
		if so > uint64(len(sb.data)) || n > uint64(len(sb.data))-so || do > uint64(len(db.data)) || n > uint64(len(db.data))-do {
			s.t.Fatalf("%s: copied out of bounds", desc)
		}
		copy(db.data[do:do+n], sb.data[so:so+n])
		db.tainted = db.tainted || sb.tainted
	case "buffer-read":
		b, off, n := s.live[handles[0]], u64(1), u64(2)
		got, err := cabi.LiftList(m, int(addr), 1, 1)
		if err != nil || uint64(len(got)) != n || off > uint64(len(b.data)) || n > uint64(len(b.data))-off {
			s.t.Fatalf("%s: read %d bytes (%v) from a buffer of %d", desc, len(got), err, len(b.data))
		}
		p := cabi.Le32(m[addr:])
		if lo, hi := int64(addr)-8, int64(addr)+8; int64(p) < hi && lo < int64(p)+int64(n) {
			return // the return area overlaps the list: the host wrote it after the bytes
		}
		if b.tainted {
			if bytes.Contains(got, fuzzSecret[:16]) {
				s.t.Fatalf("%s: read another instance's data", desc)
			}
		} else if !bytes.Equal(got, b.data[off:off+n]) {
			s.t.Fatalf("%s: read %x, this instance wrote %x", desc, got, b.data[off:off+n])
		}
	case "buffer-destroy", "[resource-drop]buffer":
		delete(s.live, handles[0])
	}
}

// TestWasiGPUFuzzSeeds runs the fuzz target's seeds and a few thousand pseudo-random
// sequences as a plain test.
func TestWasiGPUFuzzSeeds(t *testing.T) {
	fx := wasiGPUFuzzFixture(t)
	inputs := wasiGPUSeeds()
	x := uint64(0x0ff10ad)
	for i := 0; i < 200; i++ {
		in := make([]byte, 8*(1+i%40))
		for k := 0; k < len(in); k += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(in[k:], x)
		}
		inputs = append(inputs, in)
	}
	outcomes := map[string]int{}
	for _, in := range inputs {
		s := newImportSession(t, fx)
		r := &fuzzReader{b: in}
		for op := 0; op < 48 && r.more(); op++ {
			s.step(r)
		}
		s.finish()
		for k, v := range s.outcomes {
			outcomes[k] += v
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
