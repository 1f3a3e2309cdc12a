//! The random-forest guest (`build/guests/forest/forest-rust.wasm`, built by
//! `scripts/build-forest-guest.sh`) against native `offload-core`: same forest, same
//! predictions bit for bit; bad hyperparameters and bad pointers are errors, not traps;
//! the host stays usable after an error and after a trap.

use std::path::PathBuf;

use offload_core::data::{diabetes_train_test as split, friedman1};
use offload_core::forest::{mse, Forest, ForestError, ForestParams};
use offload_host::forest_guest::{
    ForestGuest, ForestGuestError, RawParams, DEFAULT_PATH, ERR_ARGUMENT, ERR_DATA, ERR_NOT_FITTED,
    ERR_PARAMS,
};
use wasmtime::{Engine, Instance, Linker, Module, Store};

fn guest_path() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DEFAULT_PATH);
    assert!(
        p.exists(),
        "{} is missing: build it with scripts/build-forest-guest.sh (./build.sh test does)",
        p.display()
    );
    p
}

fn guest() -> ForestGuest {
    ForestGuest::load(guest_path()).expect("the forest guest loads")
}

/// Asserts that two prediction vectors are equal bit for bit, naming the first
/// difference.
fn assert_bits_eq(guest: &[f64], native: &[f64]) {
    assert_eq!(guest.len(), native.len());
    for (i, (g, n)) in guest.iter().zip(native).enumerate() {
        assert_eq!(g.to_bits(), n.to_bits(), "row {i}: guest {g} vs native {n}");
    }
}

fn nodes(f: &Forest) -> usize {
    f.trees.iter().map(|t| t.len()).sum()
}

#[test]
fn diabetes_guest_mse_in_range_and_equal_to_native() {
    let (train, test) = split();
    let p = ForestParams::default();
    let mut g = guest();
    g.fit(&train, &p).unwrap();
    let pred = g.predict(&test.x).unwrap();
    let m = mse(&pred, &test.y);
    // scikit-learn's RandomForestRegressor(200) gets about 2966–3073 on this split.
    assert!((2700.0..3300.0).contains(&m), "guest test MSE {m}");

    let native = Forest::fit(&train, &p).unwrap();
    assert_bits_eq(&pred, &native.predict(&test.x).unwrap());
    assert_eq!(g.node_count().unwrap(), nodes(&native));
    // Predicting the training rows too (another 353 rows through the same forest).
    assert_bits_eq(
        &g.predict(&train.x).unwrap(),
        &native.predict(&train.x).unwrap(),
    );
}

#[test]
fn friedman_with_every_hyperparameter_equals_native() {
    let data = friedman1(300, 10, 1.0, 7);
    let probe = friedman1(50, 10, 1.0, 8);
    let p = ForestParams {
        n_trees: 12,
        max_features: Some(3),
        max_depth: Some(6),
        min_samples_split: 4,
        min_samples_leaf: 2,
        bootstrap: true,
        seed: 9,
    };
    let mut g = guest();
    g.fit(&data, &p).unwrap();
    let native = Forest::fit(&data, &p).unwrap();
    let pred = g.predict(&probe.x).unwrap();
    assert_bits_eq(&pred, &native.predict(&probe.x).unwrap());
    assert_eq!(g.node_count().unwrap(), nodes(&native));

    // Another seed grows another forest (the seed reaches the guest).
    let q = ForestParams { seed: 10, ..p };
    g.fit(&data, &q).unwrap();
    assert_ne!(g.predict(&probe.x).unwrap(), pred);
    let native_q = Forest::fit(&data, &q).unwrap();
    assert_bits_eq(
        &g.predict(&probe.x).unwrap(),
        &native_q.predict(&probe.x).unwrap(),
    );
}

fn guest_code(e: ForestGuestError) -> (i32, String) {
    match e {
        ForestGuestError::Guest { code, message, .. } => (code, message),
        other => panic!("expected a guest error code, got {other:?}"),
    }
}

#[test]
fn bad_hyperparameters_are_guest_errors_and_the_guest_stays_usable() {
    let data = friedman1(60, 5, 0.1, 2);
    let small = ForestParams {
        n_trees: 3,
        ..ForestParams::default()
    };
    let mut g = guest();
    let cases: [(ForestParams, &str); 4] = [
        (
            ForestParams {
                n_trees: 0,
                ..small.clone()
            },
            "n_trees",
        ),
        (
            ForestParams {
                max_features: Some(6),
                ..small.clone()
            },
            "max_features",
        ),
        (
            ForestParams {
                min_samples_leaf: 0,
                ..small.clone()
            },
            "min_samples_leaf",
        ),
        (
            ForestParams {
                min_samples_split: 1,
                ..small.clone()
            },
            "min_samples_split",
        ),
    ];
    for (p, name) in cases {
        let (code, msg) = guest_code(g.fit(&data, &p).unwrap_err());
        assert_eq!(code, ERR_PARAMS, "{name}: {msg}");
        assert!(msg.contains(name), "{name}: message {msg:?}");
        // The guest's message is core's own text for the same mistake.
        assert_eq!(msg, p.validate(5).unwrap_err().to_string());
        // A failed fit leaves no forest.
        assert!(matches!(
            g.predict(&data.x),
            Err(ForestGuestError::NotFitted)
        ));
    }
    // Values only the raw ABI can carry: negative counts.
    let raw = RawParams::from_params(&small, 5).unwrap();
    for bad in [
        RawParams { n_trees: -1, ..raw },
        RawParams {
            max_features: -3,
            ..raw
        },
        RawParams {
            max_depth: -1,
            ..raw
        },
        RawParams {
            min_samples_leaf: i32::MIN,
            ..raw
        },
    ] {
        let (code, msg) = guest_code(g.fit_raw(&data.x, &data.y, 5, bad).unwrap_err());
        assert_eq!(code, ERR_PARAMS, "{bad:?}: {msg}");
        assert!(msg.contains("must be at least"), "{msg}");
    }
    // Empty data is the guest's ERR_DATA.
    let (code, msg) = guest_code(g.fit_raw(&[], &[], 5, raw).unwrap_err());
    assert_eq!(code, ERR_DATA, "{msg}");
    // What the ABI cannot express is refused on the host, with core's error where
    // there is one.
    let mf0 = ForestParams {
        max_features: Some(0),
        ..small.clone()
    };
    assert!(matches!(
        g.fit(&data, &mf0),
        Err(ForestGuestError::Forest(ForestError::MaxFeatures {
            got: 0,
            d: 5
        }))
    ));
    let depth0 = ForestParams {
        max_depth: Some(0),
        ..small.clone()
    };
    assert!(matches!(
        g.fit(&data, &depth0),
        Err(ForestGuestError::Input(_))
    ));
    let no_boot = ForestParams {
        bootstrap: false,
        ..small.clone()
    };
    assert!(matches!(
        g.fit(&data, &no_boot),
        Err(ForestGuestError::Input(_))
    ));
    // Shapes.
    assert!(matches!(
        g.fit_raw(&data.x[1..], &data.y, 5, raw),
        Err(ForestGuestError::Input(_))
    ));

    // Still usable, without a single trap: a good fit equals native.
    g.fit(&data, &small).unwrap();
    let native = Forest::fit(&data, &small).unwrap();
    assert_bits_eq(
        &g.predict(&data.x).unwrap(),
        &native.predict(&data.x).unwrap(),
    );
    assert!(matches!(
        g.predict(&[0.0; 7]),
        Err(ForestGuestError::Forest(ForestError::Width {
            got: 7,
            d: 5
        }))
    ));
    assert_eq!(g.predict(&[]).unwrap(), Vec::<f64>::new());
    assert_eq!(g.rebuilds(), 0);
}

/// The guest's own checks, reached through the raw exports: pointers outside a block
/// from `forest_alloc`, misaligned, overlapping, freed twice; all error codes, no trap.
#[test]
fn guest_rejects_bad_pointers_without_trapping() {
    let engine = Engine::default();
    let module = Module::from_file(&engine, guest_path()).unwrap();
    let mut linker: Linker<wasmtime_wasi::p1::WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx).unwrap();
    let mut store = Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
    let inst: Instance = linker.instantiate(&mut store, &module).unwrap();
    let alloc = inst
        .get_typed_func::<i32, i32>(&mut store, "forest_alloc")
        .unwrap();
    let free = inst
        .get_typed_func::<(i32, i32), i32>(&mut store, "forest_free")
        .unwrap();
    let fit = inst
        .get_typed_func::<(i32, i32, i32, i32, i32, i32, i32, i32, i32, i64), i32>(
            &mut store,
            "forest_fit",
        )
        .unwrap();
    let predict = inst
        .get_typed_func::<(i32, i32, i32), i32>(&mut store, "forest_predict")
        .unwrap();
    let count = inst
        .get_typed_func::<(), i32>(&mut store, "forest_node_count")
        .unwrap();
    let last = inst
        .get_typed_func::<(i32, i32), i32>(&mut store, "forest_last_error")
        .unwrap();
    let memory = inst.get_memory(&mut store, "memory").unwrap();
    let message = |store: &mut Store<_>| -> String {
        let len = last.call(&mut *store, (0, 0)).unwrap();
        let buf = alloc.call(&mut *store, len.max(1)).unwrap();
        let n = last.call(&mut *store, (buf, len)).unwrap();
        assert_eq!(n, len);
        let text =
            String::from_utf8(memory.data(&*store)[buf as usize..(buf + len) as usize].to_vec())
                .unwrap();
        assert_eq!(free.call(&mut *store, (buf, len.max(1))).unwrap(), 0);
        text
    };

    assert_eq!(alloc.call(&mut store, 0).unwrap(), 0);
    assert_eq!(alloc.call(&mut store, -5).unwrap(), 0);
    assert!(message(&mut store).contains("bytes must be at least 1"));
    assert_eq!(count.call(&mut store, ()).unwrap(), ERR_NOT_FITTED);
    assert_eq!(
        predict.call(&mut store, (8, 1, 16)).unwrap(),
        ERR_NOT_FITTED
    );

    // A tiny data set: 4 rows × 1 feature.
    let (n, d) = (4, 1);
    let x = alloc.call(&mut store, n * d * 4).unwrap();
    let y = alloc.call(&mut store, n * 8).unwrap();
    assert!(x > 0 && y > 0 && x % 8 == 0 && y % 8 == 0);
    let ok = |x, y, n| (x, y, n, d, 2, 0, 0, 2, 1, 42i64);
    // Pointers into the guest's own data (1024 is in its static data), past a block,
    // misaligned, null: all ERR_ARGUMENT.
    for (args, why) in [
        (ok(1024, y, n), "not inside one block"),
        (ok(x, y, n + 1), "not inside one block"),
        (ok(x + 1, y, n), "not 4-byte aligned"),
        (ok(0, y, n), "null or negative"),
        (ok(x, -8, n), "null or negative"),
    ] {
        assert_eq!(
            fit.call(&mut store, args).unwrap(),
            ERR_ARGUMENT,
            "{args:?}"
        );
        let msg = message(&mut store);
        assert!(msg.contains(why), "{args:?}: {msg}");
    }
    let mem = memory.data_mut(&mut store);
    for (i, v) in [1.0f32, 2.0, 3.0, 4.0].iter().enumerate() {
        mem[x as usize + 4 * i..x as usize + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    for (i, v) in [10.0f64, 20.0, 30.0, 40.0].iter().enumerate() {
        mem[y as usize + 8 * i..y as usize + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    assert_eq!(fit.call(&mut store, ok(x, y, n)).unwrap(), 0);
    assert!(count.call(&mut store, ()).unwrap() >= 3);
    // Predict into y (a separate block): fine; into x itself (overlap): refused.
    assert_eq!(predict.call(&mut store, (x, n, y)).unwrap(), 0);
    assert_eq!(predict.call(&mut store, (x, 1, x)).unwrap(), ERR_ARGUMENT);
    assert!(message(&mut store).contains("overlap"));
    // Frees: wrong size, unknown block, twice.
    assert_eq!(free.call(&mut store, (x, 3)).unwrap(), ERR_ARGUMENT);
    assert_eq!(free.call(&mut store, (12345, 8)).unwrap(), ERR_ARGUMENT);
    assert_eq!(free.call(&mut store, (x, n * d * 4)).unwrap(), 0);
    assert_eq!(free.call(&mut store, (x, n * d * 4)).unwrap(), ERR_ARGUMENT);
    assert!(message(&mut store).contains("not a live block"));
    // A freed block is no longer a valid input.
    assert_eq!(predict.call(&mut store, (x, n, y)).unwrap(), ERR_ARGUMENT);
}

/// A stand-in guest written in WAT whose `forest_fit` traps and whose `forest_alloc`
/// can be told to return a bad pointer: the host reports both and stays usable.
const FAKE_GUEST: &str = r#"
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 64))
  (global $bad (mut i32) (i32.const 0))
  (func (export "forest_abi_version") (result i32) i32.const 1)
  (func (export "forest_alloc") (param $n i32) (result i32)
    (local $p i32)
    global.get $bad
    if (result i32) global.get $bad
    else
      global.get $next local.set $p
      global.get $next local.get $n i32.add i32.const 7 i32.add i32.const -8 i32.and global.set $next
      local.get $p
    end)
  (func (export "forest_free") (param i32 i32) (result i32) i32.const 0)
  (func (export "forest_fit") (param i32 i32 i32 i32) (param $trees i32) (param i32 i32 i32 i32 i64) (result i32)
    ;; n_trees 7: ask for a bad pointer next time; 9: return 0; else trap
    local.get $trees i32.const 7 i32.eq
    if i32.const 65533 global.set $bad i32.const 0 return end
    local.get $trees i32.const 9 i32.eq
    if i32.const 0 return end
    unreachable)
  (func (export "forest_predict") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "forest_last_error") (param i32 i32) (result i32) i32.const 0)
  (func (export "forest_node_count") (result i32) i32.const 1))
"#;

#[test]
fn host_survives_traps_and_refuses_bad_guest_pointers() {
    let engine = offload_host::default_engine().unwrap();
    let module = Module::new(&engine, wat::parse_str(FAKE_GUEST).unwrap()).unwrap();
    let mut g = ForestGuest::from_module(&module, "fake").unwrap();
    let data = friedman1(20, 5, 0.1, 1);
    let p = |n_trees| ForestParams {
        n_trees,
        ..ForestParams::default()
    };
    match g.fit(&data, &p(3)) {
        Err(ForestGuestError::Trap {
            op: "forest_fit",
            message,
        }) => {
            assert!(message.contains("unreachable"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(g.rebuilds(), 1);
    assert!(matches!(
        g.predict(&data.x),
        Err(ForestGuestError::NotFitted)
    ));
    // The rebuilt instance answers.
    g.fit(&data, &p(9)).unwrap();
    assert_eq!(g.node_count().unwrap(), 1);
    // Now make forest_alloc hand out 65533: misaligned.
    g.fit(&data, &p(7)).unwrap();
    match g.predict(&data.x) {
        Err(ForestGuestError::BadPointer {
            ptr: 65533, reason, ..
        }) => {
            assert!(reason.contains("aligned"), "{reason}")
        }
        other => panic!("expected a refused pointer, got {other:?}"),
    }
}

#[test]
fn loading_a_non_forest_module_is_an_error() {
    let engine = offload_host::default_engine().unwrap();
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "forest_abi_version") (result i32) i32.const 2))"#;
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    assert!(matches!(
        ForestGuest::from_module(&module, "v2"),
        Err(ForestGuestError::AbiVersion {
            found: 2,
            expected: 1
        })
    ));
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "forest_abi_version") (result i32) i32.const 1))"#;
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    match ForestGuest::from_module(&module, "partial") {
        Err(ForestGuestError::Export { name, .. }) => assert_eq!(name, "forest_alloc"),
        other => panic!("expected a missing export, got {other:?}"),
    }
    assert!(matches!(
        ForestGuest::load("/nonexistent/forest.wasm"),
        Err(ForestGuestError::Load(_))
    ));
}
