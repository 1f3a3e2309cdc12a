package main

import (
	"math"
	"math/rand"
	"testing"
)

// These tests run natively (go test in tinygo-guest): they check the kernels' arithmetic
// and the length checks against plain reference loops. The wasm-specific parts (exports,
// `unreachable`, the stack-pointer reset in trap_wasm.s) are checked on the built module
// by the hosts' conformance tests.

var sizes = []int32{0, 1, 3, 4, 5, 7, 8, 9, 1000, Capacity - 1, Capacity}

func fill(rng *rand.Rand, n int32) {
	for i := int32(0); i < n; i++ {
		bufA[i] = rng.Float64()*20 - 10
		bufB[i] = rng.Float64()*20 - 10
	}
}

// near reports whether got is within 1e-12 of want, relative to scale (Σ|terms|, which
// bounds the rounding error of any summation order).
func near(got, want, scale float64) bool {
	return math.Abs(got-want) <= 1e-12*math.Max(scale, 1)
}

func TestConstants(t *testing.T) {
	if AbiVersion() != 2 || GetCapacity() != Capacity || Capacity != 100000 {
		t.Fatalf("abi_version %d, capacity %d", AbiVersion(), GetCapacity())
	}
}

func TestReductions(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range sizes {
		fill(rng, n)
		var seq, dot, absSum, absDot float64
		for i := int32(0); i < n; i++ {
			seq += bufA[i]
			dot += float64(bufA[i] * bufB[i])
			absSum += math.Abs(bufA[i])
			absDot += math.Abs(bufA[i] * bufB[i])
		}
		if got := Sum(n); got != seq {
			t.Errorf("Sum(%d) = %v, want exactly the sequential %v", n, got, seq)
		}
		if got := SumSIMD(n); !near(got, seq, absSum) {
			t.Errorf("SumSIMD(%d) = %v, want %v", n, got, seq)
		}
		if got := Dot(n); got != dot {
			t.Errorf("Dot(%d) = %v, want exactly the sequential %v", n, got, dot)
		}
		if got := DotSIMD(n); !near(got, dot, absDot) {
			t.Errorf("DotSIMD(%d) = %v, want %v", n, got, dot)
		}
	}
}

func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range sizes {
		fill(rng, n)
		if n < Capacity {
			bufResult[n] = 42 // sentinel: must survive
		}
		Mul(n)
		for i := int32(0); i < n; i++ {
			if bufResult[i] != bufA[i]*bufB[i] {
				t.Fatalf("Mul(%d): result[%d] = %v, want %v", n, i, bufResult[i], bufA[i]*bufB[i])
			}
		}
		if n < Capacity && bufResult[n] != 42 {
			t.Fatalf("Mul(%d) wrote past len", n)
		}
		Scale(-2.5, n)
		for i := int32(0); i < n; i++ {
			if bufResult[i] != -2.5*bufA[i] {
				t.Fatalf("Scale(%d): result[%d] = %v, want %v", n, i, bufResult[i], -2.5*bufA[i])
			}
		}
		if n < Capacity && bufResult[n] != 42 {
			t.Fatalf("Scale(%d) wrote past len", n)
		}
	}
}

func TestSpecialValuesPropagate(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		want func(float64) bool
	}{
		{"NaN", math.NaN(), math.IsNaN},
		{"+Inf", math.Inf(1), func(x float64) bool { return math.IsInf(x, 1) }},
		{"-Inf", math.Inf(-1), func(x float64) bool { return math.IsInf(x, -1) }},
	} {
		const n = 37
		for i := 0; i < n; i++ {
			bufA[i], bufB[i] = float64(i), 1
		}
		bufA[n/2] = tc.v
		for name, got := range map[string]float64{"Sum": Sum(n), "SumSIMD": SumSIMD(n), "Dot": Dot(n), "DotSIMD": DotSIMD(n)} {
			if !tc.want(got) {
				t.Errorf("%s with a %s element = %v", name, tc.name, got)
			}
		}
		Mul(n)
		if !tc.want(bufResult[n/2]) {
			t.Errorf("Mul: %s became %v", tc.name, bufResult[n/2])
		}
	}
}

func TestBadLengthTraps(t *testing.T) {
	ops := map[string]func(int32){
		"Sum":     func(n int32) { Sum(n) },
		"SumSIMD": func(n int32) { SumSIMD(n) },
		"Dot":     func(n int32) { Dot(n) },
		"DotSIMD": func(n int32) { DotSIMD(n) },
		"Mul":     Mul,
		"Scale":   func(n int32) { Scale(2, n) },
	}
	for name, op := range ops {
		for _, n := range []int32{-1, Capacity + 1, math.MinInt32, math.MaxInt32} {
			func() {
				defer func() {
					if r := recover(); r != errBadLen {
						t.Errorf("%s(%d): got panic %v, want the length check's trap", name, n, r)
					}
				}()
				op(n)
			}()
		}
	}
}
