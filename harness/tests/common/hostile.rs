//! Hostile captures for tests, built by `scripts/make-hostile.py` (shared
//! with the plugin's tests, which include this file by path).

use std::path::{Path, PathBuf};

/// Builds a hostile capture of `kind` and `size` (see the script) in a
/// temporary directory; `root` is the project's.
pub fn make(root: &Path, kind: &str, size: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailscope-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{kind}-{size}.pcap"));
    let status = std::process::Command::new("python3")
        .arg(root.join("scripts/make-hostile.py"))
        .args([kind, &size.to_string()])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    path
}
