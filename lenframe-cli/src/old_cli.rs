//! Command-line parsing shared by the examples (a tiny hand parser: no
//! dependency for four flags).

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use lenframe::{Codec, HeaderFormat};

/// `println!` for the examples' stdout: once stdout is closed (`| head`),
/// the program ends quietly instead of panicking.
#[allow(unused_macros)] // not every example prints to stdout
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}
#[allow(unused_imports)] // not every example prints to stdout
pub(crate) use say;

/// The flags after the program name.
pub struct Flags {
    args: std::vec::IntoIter<String>,
}

impl Flags {
    /// The next flag, if any.
    pub fn next_flag(&mut self) -> Option<String> {
        self.args.next()
    }

    /// The value after `flag`, parsed.
    pub fn value<T: FromStr>(&mut self, flag: &str) -> Result<T, String>
    where
        T::Err: Display,
    {
        let raw = self
            .args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        raw.parse().map_err(|e| format!("{flag} {raw:?}: {e}"))
    }
}

/// Parses the command line with `parse`. `--help` prints `usage` and asks
/// to exit 0; a parse error prints one line and asks to exit 2.
pub fn parse_cli<T>(
    program: &str,
    usage: &str,
    parse: impl FnOnce(&mut Flags) -> Result<T, String>,
) -> Result<T, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        // `--help | head` closes stdout early: not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{usage}");
        return Err(ExitCode::SUCCESS);
    }
    parse(&mut Flags {
        args: args.into_iter(),
    })
    .map_err(|e| {
        eprintln!("{program}: {e}");
        ExitCode::from(2)
    })
}

/// The error for a flag the program does not know.
pub fn unknown(flag: &str) -> String {
    format!("unknown argument {flag:?} (try --help)")
}

/// Settings of the echo servers.
#[allow(dead_code)] // each server uses its own subset
pub struct ServerConfig {
    pub addr: String,
    pub codec: Codec,
    pub max_conns: usize,
    pub idle_timeout: Option<Duration>,
    /// Bytes of echoes one connection may have pending (written by the
    /// server, not yet taken by the peer) before the server stops reading
    /// that connection.
    pub conn_budget: usize,
    /// Bytes the server may hold buffered over all connections before it
    /// stops reading from any of them.
    pub max_memory: usize,
}

/// Default `--conn-budget`: 8 MiB.
pub const DEFAULT_CONN_BUDGET: usize = 8 << 20;

/// Parses the echo servers' shared command line. `default_max_conns` is the
/// server's own default (derived from the machine's limits).
#[allow(dead_code)] // not used by the client
pub fn server_config(program: &str, default_max_conns: usize) -> Result<ServerConfig, ExitCode> {
    let default_memory = default_max_memory();
    let usage = format!(
        "usage: {program} [--addr HOST:PORT] [--header FMT] [--max-frame BYTES] [--max-conns N]
       [--idle-timeout SECS] [--conn-budget BYTES] [--max-memory BYTES]
  --addr HOST:PORT      address for TCP and UDP (default 127.0.0.1:9000; port 0 picks one)
  --header FMT          Python struct format of the length header (default !I;
                        a peer using struct.pack('i') needs i)
  --max-frame BYTES     largest payload accepted (default 8388608)
  --max-conns N         concurrent TCP connections served; more are refused
                        (default {default_max_conns}, from this machine's limits)
  --idle-timeout SECS   close a peer that stalls this long in the middle of a frame
  --conn-budget BYTES   echoes a connection may have pending before the server stops
                        reading it until the peer reads them (default {DEFAULT_CONN_BUDGET})
  --max-memory BYTES    bytes buffered over all connections before the server stops
                        reading until memory frees (default {default_memory}: a quarter
                        of the available memory)
BYTES take a K, M or G suffix (powers of 1024). Ctrl-C (SIGINT) or SIGTERM: stop
accepting, deliver the echoes in flight, print a summary, exit 0."
    );
    parse_cli(program, &usage, |flags| {
        let mut addr = "127.0.0.1:9000".to_owned();
        let mut format = HeaderFormat::default();
        let mut max_frame = lenframe::DEFAULT_MAX_FRAME_LEN;
        let mut max_conns = default_max_conns;
        let mut idle_timeout = None;
        let mut conn_budget = DEFAULT_CONN_BUDGET;
        let mut max_memory = default_memory;
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "--addr" => addr = flags.value(&flag)?,
                "--header" => format = flags.value(&flag)?,
                "--max-frame" => max_frame = byte_count(flags, &flag)?,
                "--max-conns" => {
                    max_conns = flags.value(&flag)?;
                    if max_conns == 0 {
                        return Err("--max-conns 0 would refuse every connection".into());
                    }
                }
                "--idle-timeout" => {
                    let secs: f64 = flags.value(&flag)?;
                    if !(secs > 0.0 && secs.is_finite()) {
                        return Err("--idle-timeout must be a positive number of seconds".into());
                    }
                    idle_timeout = Some(Duration::from_secs_f64(secs));
                }
                "--conn-budget" => conn_budget = positive_byte_count(flags, &flag)?,
                "--max-memory" => max_memory = positive_byte_count(flags, &flag)?,
                other => return Err(unknown(other)),
            }
        }
        let codec = Codec::builder()
            .format(format)
            .max_frame_len(max_frame)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ServerConfig {
            addr,
            codec,
            max_conns,
            idle_timeout,
            conn_budget,
            max_memory,
        })
    })
}

/// A byte count: digits with an optional K, M or G suffix (powers of 1024,
/// `KiB`/`MiB`/`GiB` too).
#[allow(dead_code)] // not used by the client
fn byte_count(flags: &mut Flags, flag: &str) -> Result<usize, String> {
    let raw: String = flags.value(flag)?;
    parse_bytes(&raw).ok_or_else(|| {
        format!("{flag} {raw:?}: not a byte count (digits, optionally followed by K, M or G)")
    })
}

/// A byte count above zero.
#[allow(dead_code)] // not used by the client
fn positive_byte_count(flags: &mut Flags, flag: &str) -> Result<usize, String> {
    match byte_count(flags, flag)? {
        0 => Err(format!("{flag} must be more than 0 bytes")),
        n => Ok(n),
    }
}

/// `8388608`, `8M`, `8MiB`, `64k`: the number of bytes, or `None`.
#[allow(dead_code)] // not used by the client
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

/// The soft limit on open files (RLIMIT_NOFILE), from `/proc/self/limits`
/// (Linux): `None` if unlimited or unknown.
#[allow(dead_code)] // not used by the client
pub fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Default `--max-memory`: a quarter of MemAvailable (`/proc/meminfo`), at
/// least 64 MiB; 1 GiB where that cannot be read.
#[allow(dead_code)] // not used by the client
pub fn default_max_memory() -> usize {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            usize::try_from(kib.saturating_mul(1024)).ok()
        });
    match available {
        Some(bytes) => (bytes / 4).max(64 << 20),
        None => 1 << 30,
    }
}
