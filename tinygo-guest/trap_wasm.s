//go:build wasm && !tinygo

#include "textflag.h"

// func trap(top uintptr)
// Restores Go's stack pointer (the SP global) to top, then traps: UNDEF assembles to the
// wasm `unreachable` instruction (0x00) on GOARCH=wasm. As a guard against a frame layout
// other than the one frameTop assumes, SP is only moved when SP < top <= SP+1024 (the
// export wrapper's and the exported function's frames are a few dozen bytes); otherwise
// it traps leaving SP alone, which leaks those bytes but corrupts nothing.
TEXT ·trap(SB), NOSPLIT|NOFRAME, $0-8
	MOVD top+0(FP), R0
	Get R0
	Get SP
	I64ExtendI32U
	I64GtU
	Get R0
	Get SP
	I64ExtendI32U
	I64Const $1024
	I64Add
	I64LeU
	I32And
	If
		MOVD R0, SP
	End
	UNDEF
