//! What the machine allows, and how limits are written on the command line.
//!
//! The defaults of `lenframe serve` come from the machine: the open-file
//! limit (`/proc/self/limits`), the available memory (`/proc/meminfo`) and
//! the cores. `/proc` is Linux's: elsewhere the readings are `None` and the
//! fixed fallbacks below apply. The parsers turn `8M` or `0.5` into the
//! numbers the flags mean, with a message fit for one stderr line.

use std::time::Duration;

/// File descriptors `lenframe serve` keeps back from its connection limit:
/// standard streams, listener, UDP socket, epoll and wake-up descriptors,
/// the signal pipe, the spare descriptor.
const FD_RESERVE: usize = 32;
/// `--max-conns` where the open-file limit cannot be read (or is
/// unlimited): the real bound is then whatever the kernel allows, and a
/// connection past it is accepted and closed at once.
const MAX_CONNS_FALLBACK: usize = 1 << 20;
/// `--max-memory` where the available memory cannot be read: 1 GiB.
const MAX_MEMORY_FALLBACK: usize = 1 << 30;
/// The least default `--max-memory`: 64 MiB.
const MAX_MEMORY_FLOOR: usize = 64 << 20;
/// Default `--conn-budget`: 8 MiB.
pub const DEFAULT_CONN_BUDGET: usize = 8 << 20;

/// The soft limit on open files (RLIMIT_NOFILE), from `/proc/self/limits`
/// (Linux): `None` if unlimited or unknown.
pub fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_files(&limits)
}

/// The soft `Max open files` of a `/proc/PID/limits` text.
fn soft_open_files(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Default `--max-conns`: the open-file limit less [`FD_RESERVE`] (each
/// connection costs one descriptor and no thread), at least 1.
pub fn default_max_conns() -> usize {
    open_files_limit()
        .map_or(MAX_CONNS_FALLBACK, |n| n.saturating_sub(FD_RESERVE))
        .max(1)
}

/// `MemAvailable` from `/proc/meminfo` (Linux), in bytes.
fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    mem_available(&info)
}

/// The `MemAvailable:` line of a `/proc/meminfo` text, in bytes.
fn mem_available(info: &str) -> Option<usize> {
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    usize::try_from(kib.saturating_mul(1024)).ok()
}

/// Default `--max-memory`: a quarter of the available memory, at least
/// 64 MiB; [`MAX_MEMORY_FALLBACK`] where that cannot be read.
pub fn default_max_memory() -> usize {
    available_memory().map_or(MAX_MEMORY_FALLBACK, |bytes| {
        (bytes / 4).max(MAX_MEMORY_FLOOR)
    })
}

/// Default `--threads`: one worker per core (1 if that is unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `8388608`, `8M`, `8MiB`, `64k`: the number of bytes (K, M, G are powers
/// of 1024), or `None`.
pub fn parse_bytes(raw: &str) -> Option<usize> {
    let digits = raw.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let shift = match raw[digits.len()..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return None,
    };
    let n: usize = digits.parse().ok()?;
    n.checked_mul(1 << shift)
}

/// A byte count, for clap: digits with an optional K, M or G suffix.
pub fn byte_count(raw: &str) -> Result<usize, String> {
    parse_bytes(raw)
        .ok_or_else(|| "not a byte count (digits, optionally followed by K, M or G)".to_owned())
}

/// A byte count above zero, for clap.
pub fn positive_byte_count(raw: &str) -> Result<usize, String> {
    match byte_count(raw)? {
        0 => Err("must be more than 0 bytes".to_owned()),
        n => Ok(n),
    }
}

/// A count of at least 1, for clap.
pub fn at_least_one(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A positive number of seconds (`0.5`, `30`), for clap.
pub fn seconds(raw: &str) -> Result<Duration, String> {
    let secs: f64 = raw.parse().map_err(|_| "not a number of seconds")?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be a positive number of seconds".to_owned());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "too many seconds".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        for (raw, want) in [
            ("0", Some(0)),
            ("8388608", Some(8 << 20)),
            ("8M", Some(8 << 20)),
            ("8MiB", Some(8 << 20)),
            ("64k", Some(64 << 10)),
            ("1G", Some(1 << 30)),
            ("12b", Some(12)),
            ("", None),
            ("M", None),
            ("lots", None),
            ("-1", None),
            ("1.5M", None),
            ("8T", None),
            ("8 M", None),
            ("99999999999999999999", None),
            ("18446744073709551615G", None),
        ] {
            assert_eq!(parse_bytes(raw), want, "{raw:?}");
        }
        assert!(positive_byte_count("0").is_err());
        assert_eq!(positive_byte_count("1K"), Ok(1024));
    }

    #[test]
    fn seconds_and_counts() {
        assert_eq!(seconds("0.3"), Ok(Duration::from_millis(300)));
        for bad in ["0", "-1", "NaN", "inf", "1e300", "soon", ""] {
            assert!(seconds(bad).is_err(), "{bad:?}");
        }
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err());
        assert!(at_least_one("-3").is_err());
    }

    #[test]
    fn proc_texts() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(soft_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(soft_open_files(unlimited), None);
        let info = "MemTotal:       24000000 kB\nMemAvailable:   16000000 kB\n";
        assert_eq!(mem_available(info), Some(16_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }
}
