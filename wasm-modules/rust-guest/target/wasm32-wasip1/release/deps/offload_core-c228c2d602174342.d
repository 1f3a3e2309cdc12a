/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/deps/offload_core-c228c2d602174342.d: /work/main/core/src/lib.rs /work/main/core/src/vector.rs

/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/deps/liboffload_core-c228c2d602174342.rlib: /work/main/core/src/lib.rs /work/main/core/src/vector.rs

/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/deps/liboffload_core-c228c2d602174342.rmeta: /work/main/core/src/lib.rs /work/main/core/src/vector.rs

/work/main/core/src/lib.rs:
/work/main/core/src/vector.rs:
