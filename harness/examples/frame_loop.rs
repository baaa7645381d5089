//! The floor for the benchmark: read every frame of a capture and slice its
//! TCP segment, doing nothing else (`scripts/bench.sh`).

fn main() {
    let path = std::env::args().nth(1).expect("usage: frame_loop CAPTURE");
    let mut segments = 0u64;
    let mut bytes = 0u64;
    let frames = mailscope_harness::capture::read_capture(
        std::path::Path::new(&path),
        |segment| {
            segments += 1;
            bytes += segment.payload.len() as u64;
        },
        |_| {},
    )
    .unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    println!("{frames} frames, {segments} TCP segments, {bytes} payload bytes");
}
