/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/deps/offload_rust_guest.d: src/lib.rs

/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/deps/offload_rust_guest.wasm: src/lib.rs

src/lib.rs:
