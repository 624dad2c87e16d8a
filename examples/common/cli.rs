//! Command-line parsing shared by the examples (a tiny hand parser: no
//! dependency for four flags).

use std::fmt::Display;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use lenframe::{Codec, HeaderFormat};

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
        println!("{usage}");
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
}

/// Parses the echo servers' shared command line.
#[allow(dead_code)] // not used by the client
pub fn server_config(program: &str, default_max_conns: usize) -> Result<ServerConfig, ExitCode> {
    let usage = format!(
        "usage: {program} [--addr HOST:PORT] [--header FMT] [--max-frame BYTES] [--max-conns N] [--idle-timeout SECS]
  --addr HOST:PORT      address for TCP and UDP (default 127.0.0.1:9000; port 0 picks one)
  --header FMT          Python struct format of the length header (default !I)
  --max-frame BYTES     largest payload accepted (default 8388608)
  --max-conns N         concurrent TCP connections served; more are refused (default {default_max_conns})
  --idle-timeout SECS   close a peer that stalls this long in the middle of a frame"
    );
    parse_cli(program, &usage, |flags| {
        let mut addr = "127.0.0.1:9000".to_owned();
        let mut format = HeaderFormat::default();
        let mut max_frame = lenframe::DEFAULT_MAX_FRAME_LEN;
        let mut max_conns = default_max_conns;
        let mut idle_timeout = None;
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "--addr" => addr = flags.value(&flag)?,
                "--header" => format = flags.value(&flag)?,
                "--max-frame" => max_frame = flags.value(&flag)?,
                "--max-conns" => max_conns = flags.value(&flag)?,
                "--idle-timeout" => {
                    let secs: f64 = flags.value(&flag)?;
                    if !(secs > 0.0 && secs.is_finite()) {
                        return Err("--idle-timeout must be a positive number of seconds".into());
                    }
                    idle_timeout = Some(Duration::from_secs_f64(secs));
                }
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
        })
    })
}
