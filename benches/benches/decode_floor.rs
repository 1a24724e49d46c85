//! Uncompressed batch decode against its floor (memcpy plus CRC32C of the same
//! bytes), measured interleaved rather than one after the other.
//!
//! Criterion measures each function for seconds before the next, and this
//! VM's speed for scalar code changes between phases lasting seconds to
//! minutes while vector code (the floor) barely moves, so a ratio of two
//! criterion figures can mix phases. Here every half-second window alternates
//! 20 rkafka decodes, 20 floors and 2 kafka-protocol decodes and keeps each
//! one's median, so each window's ratio compares like with like.
//!
//! `cargo bench -p rkafka-benches --bench decode_floor` (about 20 s).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rkafka_protocol::records::{Compression, DecodeOptions};
use workload::{decode_ours, decode_theirs, encode_ours, floor, value, RECORDS};

mod workload;

const WINDOWS: usize = 40;
const WINDOW: Duration = Duration::from_millis(500);

/// Microseconds per call of `f`, timed over `n` calls.
fn time(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bytes = encode_ours(Compression::None, &value());
    let opts = DecodeOptions::default();
    assert_eq!(decode_ours(&bytes, &opts), RECORDS);
    assert_eq!(decode_theirs(&bytes), RECORDS);
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // too, and there the checks above are the test.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut copy = vec![0u8; bytes.len()];
    println!("window  rkafka µs  floor µs  kafka-protocol µs  floor/rkafka");
    let mut ratios = Vec::new();
    for window in 0..WINDOWS {
        let (mut ours, mut floors, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        let end = Instant::now() + WINDOW;
        while Instant::now() < end {
            ours.push(time(20, || {
                black_box(decode_ours(black_box(&bytes), &opts));
            }));
            floors.push(time(20, || {
                black_box(floor(&mut copy, &bytes));
            }));
            theirs.push(time(2, || {
                black_box(decode_theirs(black_box(&bytes)));
            }));
        }
        let (ours, floor, theirs) = (median(ours), median(floors), median(theirs));
        ratios.push(floor / ours);
        println!(
            "{window:6}  {ours:9.2}  {floor:8.2}  {theirs:17.1}  {:11.0}%",
            floor / ours * 100.0
        );
    }
    let at_least_40 = ratios.iter().filter(|&&r| r >= 0.4).count();
    let (low, high) = (
        ratios.iter().copied().fold(f64::MAX, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "decode at {:.0}% of the floor's speed (median of {WINDOWS} windows; \
         {:.0}-{:.0}%); {at_least_40} of {WINDOWS} windows at 40% or more",
        median(ratios) * 100.0,
        low * 100.0,
        high * 100.0
    );
}
