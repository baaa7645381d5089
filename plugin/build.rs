//! Generates the C header of the Rust side's ABI (`mailscope.h`, with
//! cbindgen from `src/abi.rs` and the exported functions), then compiles the
//! epan shim (`src/shim.c`) against it and against the same Wireshark
//! headers wireshark-sys generated its bindings from, and links libwireshark.

use std::path::PathBuf;

fn main() {
    // The header comes from every Rust file's exports, the shim from its C files.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("plugin/cbindgen.toml is readable");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the plugin's ABI")
        .write_to_file(out_dir.join("mailscope.h"));

    let includes =
        std::env::var("DEP_WIRESHARK_INCLUDE").expect("wireshark-sys passes the include paths");
    let mut build = cc::Build::new();
    build
        .file("src/shim.c")
        .include(&out_dir)
        .flag_if_supported("-Wno-unused-parameter")
        .flag("-Werror=implicit-function-declaration")
        .warnings(true);
    for dir in includes.split(':').filter(|d| !d.is_empty()) {
        build.include(dir);
    }
    build.compile("mailscope_shim");
    // plugin_describe() exists from Wireshark 4.2 on.
    println!("cargo::rustc-check-cfg=cfg(ws_plugin_describe)");
    let version = std::env::var("DEP_WIRESHARK_VERSION").unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (4, 2) {
        println!("cargo:rustc-cfg=ws_plugin_describe");
    }
    println!("cargo:rustc-link-lib=wireshark");
    println!("cargo:rustc-link-lib=glib-2.0");
}
