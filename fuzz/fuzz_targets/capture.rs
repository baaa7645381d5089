#![no_main]
//! A capture file: pcap or pcapng reading, TCP reassembly, detection and both
//! protocols, through the harness.

use mailscope_harness::analyze::Analyzer;
use mailscope_harness::capture::read_from;
use mailscope_harness::Options;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut analyzer = Analyzer::new(Options::default());
    let result = read_from(
        std::io::Cursor::new(data.to_vec()),
        &mut |segment| analyzer.segment(segment),
        &mut |_| {},
    );
    let frames = result.as_ref().map_or(0, |n| *n);
    let report = analyzer.finish(frames, result.err());
    let _ = mailscope_harness::sessions::records(&report, "fuzz");
});
