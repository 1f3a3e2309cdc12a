package offload

// Deadlines for guest calls. Every entry into a guest of this package (vector guests in
// wasmtime-go and in wazero, the forest guest, wasi:gpu guests, and the start functions
// and _initialize of each) runs under a wall-clock deadline, so a guest that loops
// forever comes back as an error instead of hanging the host:
//
//   - wasmtime-go (vector and forest guests): one engine shared by this package
//     (guestEngine), configured with epoch interruption; a goroutine advances its epoch
//     every epochTick while any instance on it is alive, and each call first sets its
//     store's deadline to the current epoch plus deadlineTicks(d) (in C on the fast path,
//     so it costs no extra cgo crossing). A guest still running at the deadline traps
//     with wasmtime's interrupt.
//   - wazero: runtimes are configured with WithCloseOnContextDone(true); each instance
//     calls with a context of its own that the same goroutine cancels when a call has run
//     past its deadline (callWatch), which closes the module.
//   - wasi:gpu guests: the host's own engine and ticker (WasiGPUOptions.Deadline).
//
// An interrupted call returns a *TrapError whose Deadline is the deadline it ran past
// (errors.Is(err, ErrDeadline)); the instance then refuses further calls, as after any
// trap: make a new one (a WasmPool does, a ForestGuest rebuilds its own).

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// DefaultGuestDeadline is the wall-clock bound of one guest call (and of an instance's
// start function and _initialize) unless SetDeadline says otherwise: generous, so only
// a guest that runs away reaches it. wasi:gpu guests take WasiGPUOptions.Deadline,
// whose default is the same 60 s.
const DefaultGuestDeadline = 60 * time.Second

// epochTick is the period of the deadline clock, the resolution of every deadline
// except wasi:gpu's (which has its own, WasiGPUOptions.EpochTick).
const epochTick = 10 * time.Millisecond

// ErrDeadline is wrapped by the *TrapError of a guest call interrupted because it ran
// past its deadline.
var ErrDeadline = errors.New("guest call ran past its deadline")

// checkDeadline refuses a deadline that is not positive.
func checkDeadline(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("guest deadline %v: must be positive", d)
	}
	return nil
}

// deadlineTicks is a deadline in clock ticks of period tick: two ticks more than
// d/tick rounded up, because the clock may advance just after a call starts and a
// time.Ticker that fell behind fires early; a guest therefore runs at least d and at
// most about two ticks more before it is interrupted.
func deadlineTicks(d, tick time.Duration) uint64 {
	return uint64((d+tick-1)/tick) + 2
}

// deadlineClock advances the shared engine's epoch and checks the wazero instances'
// calls every epochTick while it has users (live instances on either runtime).
var deadlineClock struct {
	once   sync.Once
	engine atomic.Pointer[wasmtime.Engine]
	err    error

	now     atomic.Int64 // ticks since the package started the clock
	mu      sync.Mutex
	users   int
	stop    chan struct{}
	watches map[*callWatch]struct{}
}

// guestEngine is the wasmtime engine every vector and forest guest of this package is
// compiled into: linear memories never move (wasmtime_config_memory_may_move_set(false):
// growth beyond the reservation fails instead of relocating, so cached views of guest
// buffers stay valid across calls) and epoch interruption is on (the deadlines).
func guestEngine() (*wasmtime.Engine, error) {
	c := &deadlineClock
	c.once.Do(func() {
		if c.err = checkLayout(); c.err != nil {
			return
		}
		cfg := wasmtime.NewConfig()
		cfg.SetEpochInterruption(true)
		setMemoryMayMove(cfg, false)
		c.engine.Store(wasmtime.NewEngineWithConfig(cfg))
	})
	return c.engine.Load(), c.err
}

// clockAcquire registers one live instance: the clock runs while there is any.
func clockAcquire() {
	c := &deadlineClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users++
	if c.users == 1 {
		c.stop = make(chan struct{})
		go clockRun(c.stop)
	}
}

// clockRelease unregisters one live instance (after clockAcquire).
func clockRelease() {
	c := &deadlineClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users--
	if c.users == 0 {
		close(c.stop)
	}
}

func clockRun(stop <-chan struct{}) {
	c := &deadlineClock
	t := time.NewTicker(epochTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			now := c.now.Add(1)
			if e := c.engine.Load(); e != nil {
				e.IncrementEpoch()
			}
			c.mu.Lock()
			for w := range c.watches {
				w.check(now)
			}
			c.mu.Unlock()
		}
	}
}

// callWatch bounds the calls of one wazero instance: the clock cancels the instance's
// context (which wazero, configured with WithCloseOnContextDone, turns into closing the
// module) when a call has run deadline ticks.
type callWatch struct {
	cancel func()
	ticks  atomic.Int64 // the deadline in clock ticks
	start  atomic.Int64 // the tick the running call began at, plus one; 0 when idle
	fired  atomic.Bool  // the clock cancelled the context
	d      atomic.Int64 // the deadline as a time.Duration, for messages
}

// newCallWatch registers a watch for an instance whose calls use a context cancel
// cancels, with deadline d (positive); unregister it with close.
func newCallWatch(cancel func(), d time.Duration) *callWatch {
	w := &callWatch{cancel: cancel}
	w.set(d)
	c := &deadlineClock
	c.mu.Lock()
	if c.watches == nil {
		c.watches = map[*callWatch]struct{}{}
	}
	c.watches[w] = struct{}{}
	c.mu.Unlock()
	clockAcquire()
	return w
}

func (w *callWatch) set(d time.Duration) {
	w.d.Store(int64(d))
	w.ticks.Store(int64(deadlineTicks(d, epochTick)))
}

func (w *callWatch) deadline() time.Duration { return time.Duration(w.d.Load()) }

// begin and end bracket one call.
func (w *callWatch) begin() { w.start.Store(deadlineClock.now.Load() + 1) }
func (w *callWatch) end()   { w.start.Store(0) }

// check runs on the clock's goroutine at tick now.
func (w *callWatch) check(now int64) {
	s := w.start.Load()
	if s != 0 && now-(s-1) >= w.ticks.Load() && !w.fired.Load() {
		w.fired.Store(true)
		w.cancel()
	}
}

// close unregisters the watch (idempotent).
func (w *callWatch) close() {
	c := &deadlineClock
	c.mu.Lock()
	_, ok := c.watches[w]
	delete(c.watches, w)
	c.mu.Unlock()
	if ok {
		clockRelease()
	}
}

// deadlineTrap is the *TrapError of a call to export interrupted at deadline d; msg is
// the runtime's own message.
func deadlineTrap(export, msg string, d time.Duration) *TrapError {
	return &TrapError{Export: export, Msg: msg, Deadline: d}
}

// wasmtimeInterrupt is the message of a deadline's trap from wasmtime (whose own
// message adds a backtrace).
const wasmtimeInterrupt = "wasm trap: interrupt"

// isInterrupt reports whether err from wasmtime-go is the trap of an epoch interrupt.
func isInterrupt(err error) bool {
	var t *wasmtime.Trap
	if !errors.As(err, &t) {
		return false
	}
	code := t.Code()
	return code != nil && *code == wasmtime.Interrupt
}
