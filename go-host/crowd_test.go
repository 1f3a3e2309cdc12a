package offload

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// crowdSize is how many wasi:gpu guest instances TestConcurrentCrowd runs at once.
const crowdSize = 16

// crowdQuota is each instance's byte quota in TestConcurrentCrowd.
const crowdQuota = 1 << 20

// crowdGreedy is the instance of the crowd that asks for more than its quota.
const crowdGreedy = 7

// TestConcurrentCrowd runs crowdSize instances of the demo guest at once on one device
// of each backend (cpu; wgpu where an adapter exists, e.g. Mesa lavapipe, else skipped
// by name with the reason), each on its own goroutine (run under -race by
// scripts/test.sh). Each instance checks its own results: sum and matmul of a length of
// its own against the host's reference, a buffer it keeps (create-keep) read back
// through its own handle with its own bytes, an allocation within its quota. Instance
// crowdGreedy asks for twice its quota and must get the quota-exceeded gpu-error while
// every other instance succeeds; afterwards each holds exactly its kept buffer.
func TestConcurrentCrowd(t *testing.T) {
	for _, backend := range []string{"cpu", "wgpu"} {
		t.Run(backend, func(t *testing.T) {
			h := newWasiGPUHost(t, backend, WasiGPUOptions{MaxBytes: crowdQuota})
			insts := make([]*WasiGPUInstance, crowdSize)
			for i := range insts {
				insts[i] = newWasiInstance(t, h)
			}
			var wg sync.WaitGroup
			errs := make(chan error, crowdSize)
			start := make(chan struct{})
			for i, w := range insts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := crowdMember(w, i); err != nil {
						errs <- fmt.Errorf("instance %d: %w", i, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for i, w := range insts {
				if n, bytes := w.Buffers(); n != 1 || bytes != 16 {
					t.Errorf("instance %d holds %d buffers (%d bytes), want its one kept buffer of 16", i, n, bytes)
				}
			}
		})
	}
}

// crowdMember is the work of instance i of the crowd.
func crowdMember(w *WasiGPUInstance, i int) error {
	handle, err := w.Probe("create-keep", 0)
	if err != nil {
		return err
	}
	var hv uint64
	if _, err := fmt.Sscan(handle, &hv); err != nil {
		return fmt.Errorf("create-keep returned %q", handle)
	}
	for round := 0; round < 3; round++ {
		n := 1000 + 37*i + round
		got, err := w.Sum(uint32(n))
		if err != nil {
			return err
		}
		if want, scale := wantSum(n); math.Abs(got-want) > 1e-5*scale {
			return fmt.Errorf("sum(%d) = %v, want %v", n, got, want)
		}
		m := 8 + i%5
		got, err = w.Matmul(uint32(m), false)
		if err != nil {
			return err
		}
		if want, scale := wantMatmulSum(m); math.Abs(got-want) > 1e-4*scale {
			return fmt.Errorf("matmul(%d) Σ C = %v, want %v", m, got, want)
		}
		if got, err := w.Probe("use-raw", hv); err != nil || got != "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" {
			return fmt.Errorf("its own buffer %d: %q, %v", hv, got, err)
		}
	}
	if i == crowdGreedy {
		_, err := w.Probe("over-quota", 2*crowdQuota)
		if err == nil || !strings.Contains(err.Error(), "quota-exceeded") {
			return fmt.Errorf("twice the quota: got %v, want the quota-exceeded gpu-error", err)
		}
		return nil
	}
	got, err := w.Probe("over-quota", crowdQuota/2)
	if want := fmt.Sprintf("allocated %d bytes", crowdQuota/2); err != nil || got != want {
		return fmt.Errorf("half the quota: %q, %v", got, err)
	}
	return nil
}
