//! A progress bar on stderr, drawn only when stderr is a terminal: in a
//! pipe, a file or a test, nothing of it is written.
//!
//! The work only bumps an `AtomicU64` (one relaxed add per read); a
//! thread of this module turns it into the bar ten times a second, so the
//! bar never slows the work down.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar follows the count.
const TICK: Duration = Duration::from_millis(100);

/// Runs `work` with a counter of the bytes it has done. When stderr is a
/// terminal, a bar shows `done / unit` of `total` frames until `work`
/// returns, and is cleared then (so a result or an error line stands
/// alone).
pub fn frames<T>(total: u64, unit: u64, work: impl FnOnce(&AtomicU64) -> T) -> T {
    let done = AtomicU64::new(0);
    if !io::stderr().is_terminal() {
        return work(&done);
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {human_pos}/{human_len} frames echoed, {per_sec:0}, eta {eta}",
        )
        .expect("a valid template"),
    );
    bar.tick();
    let finished = AtomicBool::new(false);
    let out = thread::scope(|s| {
        // No thread for the bar (the system refused it): the work runs
        // anyway, under a bar that stays at 0.
        let follower = thread::Builder::new()
            .name("progress".into())
            .spawn_scoped(s, || {
                while !finished.load(Ordering::Relaxed) {
                    bar.set_position(done.load(Ordering::Relaxed) / unit.max(1));
                    thread::park_timeout(TICK);
                }
            });
        let out = work(&done);
        finished.store(true, Ordering::Relaxed);
        if let Ok(follower) = follower {
            follower.thread().unpark();
        }
        out
    });
    bar.finish_and_clear();
    out
}
