//! Compiles the epan shim (`src/shim.c`) against the same Wireshark headers
//! wireshark-sys generated its bindings from, and links libwireshark.

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    let includes =
        std::env::var("DEP_WIRESHARK_INCLUDE").expect("wireshark-sys passes the include paths");
    let mut build = cc::Build::new();
    build
        .file("src/shim.c")
        .flag_if_supported("-Wno-unused-parameter")
        .flag("-Werror=implicit-function-declaration")
        .warnings(true);
    for dir in includes.split(':').filter(|d| !d.is_empty()) {
        build.include(dir);
    }
    build.compile("mailscope_shim");
    println!("cargo:rustc-link-lib=wireshark");
    println!("cargo:rustc-link-lib=glib-2.0");
}
