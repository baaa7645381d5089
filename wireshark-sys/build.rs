//! Generates bindings to the installed libwireshark with bindgen. Structure
//! layouts and constants differ between Wireshark versions, so nothing here
//! is checked in: the bindings always match the headers found by pkg-config.
//! The include paths are passed on (as `DEP_WIRESHARK_INCLUDE`) so the
//! plugin's C shim compiles against the very same headers.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    let lib = pkg_config::Config::new()
        .atleast_version("3.6")
        .probe("wireshark")
        .expect("libwireshark-dev not found by pkg-config (install it: see README)");
    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .allowlist_var("WIRESHARK_VERSION_.*")
        .allowlist_type("tcpinfo")
        .allowlist_type("packet_info")
        .allowlist_function("proto_register_plugin")
        .layout_tests(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for path in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    let bindings = builder
        .generate()
        .expect("bindgen could not read the Wireshark headers");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("bindings.rs")).unwrap();
    let includes: Vec<String> = lib
        .include_paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!("cargo:include={}", includes.join(":"));
    println!("cargo:version={}", lib.version);
}
