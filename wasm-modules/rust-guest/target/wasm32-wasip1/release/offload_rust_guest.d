/work/main/wasm-modules/rust-guest/target/wasm32-wasip1/release/offload_rust_guest.wasm: /work/main/core/src/lib.rs /work/main/core/src/vector.rs /work/main/wasm-modules/rust-guest/src/lib.rs
