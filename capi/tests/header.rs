//! The checked-in header `capi/include/offload.h` must be what cbindgen generates from
//! the current sources. Regenerate with
//! `OFFLOAD_BLESS=1 cargo test -p offload-capi --test header`.

use std::path::PathBuf;

#[test]
fn header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("read capi/cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to parse capi")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = crate_dir.join("include/offload.h");
    if std::env::var_os("OFFLOAD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "capi/include/offload.h is stale or missing: run \
         `OFFLOAD_BLESS=1 cargo test -p offload-capi --test header` and commit it"
    );
}
