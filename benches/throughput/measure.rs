//! How a line is measured: run an implementation several times, check what
//! it produced, keep the median wall-clock and CPU time and count its
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The system allocator, counting allocations (and reallocations).
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to `System`; the counter has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations so far, by every thread.
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// What a run produced: frames, payload bytes and a checksum. Every run is
/// compared with the expected digest before its time counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest {
    pub frames: u64,
    pub bytes: u64,
    pub sum: u64,
}

impl Digest {
    #[inline]
    pub fn add(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.bytes += frame.len() as u64;
        if let (Some(&a), Some(&b)) = (frame.first(), frame.last()) {
            self.sum = self
                .sum
                .wrapping_mul(31)
                .wrapping_add(u64::from(a) ^ u64::from(b) << 8);
        }
    }

    /// The digest of `n` copies of `frame`.
    pub fn repeated(frame: &[u8], n: usize) -> Digest {
        let mut d = Digest::default();
        for _ in 0..n {
            d.add(frame);
        }
        d
    }
}

/// One implementation's measurement: medians over the runs.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub secs: f64,
    /// On-CPU time of the measuring thread (`/proc/thread-self/schedstat`),
    /// steadier than wall-clock on a busy machine; `None` off Linux.
    pub cpu_secs: Option<f64>,
    pub allocs_per_frame: f64,
}

/// The run's settings: full (`cargo bench`) or quick (`cargo test --benches`).
pub struct Bench {
    pub quick: bool,
    pub reps: usize,
}

impl Bench {
    pub fn new(full: bool) -> Bench {
        Bench {
            quick: !full,
            reps: if full { 5 } else { 1 },
        }
    }

    /// `full` in a full run, `quick` in the smoke test.
    pub fn size(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }

    /// Runs `f` `reps` times, checks each digest against `want`.
    pub fn time(&self, name: &str, want: Digest, mut f: impl FnMut() -> Digest) -> Timing {
        self.time_with_setup(name, want, || (), |_| f())
    }

    /// Like `time`, with an untimed `setup` before each run (and the
    /// input's drop after it, also untimed).
    pub fn time_with_setup<S>(
        &self,
        name: &str,
        want: Digest,
        mut setup: impl FnMut() -> S,
        mut f: impl FnMut(&mut S) -> Digest,
    ) -> Timing {
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        let mut allocs = 0;
        for _ in 0..self.reps {
            let mut input = setup();
            // Reading the CPU clock allocates: outside the counted span.
            let c0 = thread_cpu_ns();
            let a0 = allocations();
            let t = Instant::now();
            let got = black_box(f(&mut input));
            wall.push(t.elapsed().as_secs_f64());
            allocs = allocations() - a0;
            if let (Some(c0), Some(c1)) = (c0, thread_cpu_ns()) {
                cpu.push((c1 - c0) as f64 / 1e9);
            }
            drop(input);
            assert_eq!(got, want, "{name} produced the wrong frames");
        }
        Timing {
            secs: median(&mut wall),
            cpu_secs: (cpu.len() == wall.len()).then(|| median(&mut cpu)),
            allocs_per_frame: allocs as f64 / want.frames.max(1) as f64,
        }
    }
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds this thread has spent on a CPU.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
