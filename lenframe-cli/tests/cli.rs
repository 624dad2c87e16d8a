//! The `lenframe` command line as a user meets it: `--help` and
//! `--version` on stdout with exit 0, quiet when stdout closes early
//! (`lenframe --help | head -1`), `lenframe` alone or an unknown command
//! as a usage error (exit 2), the global `--json` documented once and
//! accepted before or after every command.

mod common;

use common::{run, run_with_stdout_closed_after, usage_error};

#[test]
fn help_lists_the_commands_and_every_flag() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("load"), "{text}");
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "--header",
        "--max-frame",
        "--max-conns",
        "--idle-timeout",
        "--conn-budget",
        "--max-memory",
        "--threads",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}: {text}");
    }
    // The platforms, and what happens off Linux.
    assert!(text.contains("Platforms: Unix"), "{text}");
    assert!(text.contains("/proc"), "{text}");
    assert!(text.contains("[default: 127.0.0.1:9000]"), "{text}");
    let out = run(&["load", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--conns",
        "--frames",
        "--size",
        "--pingpong",
        "--json",
        "--header",
    ] {
        assert!(text.contains(flag), "load --help lacks {flag}: {text}");
    }
    // Both flags that take a header name the varint one, short help too.
    for command in ["serve", "load"] {
        for help in ["-h", "--help"] {
            let out = run(&[command, help]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("varint (protobuf-delimited"),
                "{command} {help}: {text}"
            );
        }
    }
    // The short help too.
    let out = run(&["serve", "-h"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--max-memory"));
}

#[test]
fn version_is_the_package_version() {
    let version = env!("CARGO_PKG_VERSION");
    for (args, name) in [
        (&["--version"][..], "lenframe"),
        (&["-V"], "lenframe"),
        (&["serve", "--version"], "lenframe-serve"),
        (&["load", "-V"], "lenframe-load"),
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name} {version}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn help_into_a_closed_pipe_ends_quietly() {
    for args in [&["--help"][..], &["serve", "--help"], &["load", "--help"]] {
        // `lenframe --help | head -1`: one line read, then the pipe closes.
        let first = run_with_stdout_closed_after(args, 1);
        assert!(!first[0].is_empty(), "{args:?} printed nothing");
        // Closed before a single byte.
        run_with_stdout_closed_after(args, 0);
    }
}

#[test]
fn no_command_prints_the_help_to_stderr_and_exits_2() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage: lenframe [OPTIONS] <COMMAND>"), "{err}");
}

#[test]
fn unknown_commands_and_flags_exit_2_with_one_line() {
    for args in [&["echo"][..], &["--bogus"], &["serve", "--adr", "x"]] {
        let line = usage_error(&run(args), &format!("{args:?}"));
        assert!(line.starts_with("lenframe: "), "{line}");
        assert!(line.ends_with(" (try --help)"), "{line}");
    }
    // clap's suggestion survives on the one line.
    let line = usage_error(&run(&["serve", "--adr", "x"]), "--adr");
    assert!(line.contains("'--addr'"), "{line}");
}

#[test]
fn help_documents_the_json_lines_style() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["--json", "JSON Lines", "\"event\"", "{\"event\":\"load\""] {
        assert!(text.contains(needle), "--help lacks {needle}: {text}");
    }
    // Every command lists it (it is global), and load's help names its keys.
    for command in ["serve", "load"] {
        let out = run(&[command, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--json"), "{command} --help lacks --json");
    }
    let out = run(&["load", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "frames_per_sec",
    ] {
        assert!(text.contains(key), "load --help lacks {key}: {text}");
    }
}

#[test]
fn json_is_accepted_before_and_after_every_command() {
    for args in [
        &["--json", "load", "--help"][..],
        &["load", "--json", "--help"],
        &["--json", "serve", "--help"],
        &["serve", "--json", "--help"],
    ] {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Parsed, then the command's own error: not an unknown argument.
    for args in [
        &["--json", "load", "127.0.0.1:9"][..],
        &["load", "--json", "127.0.0.1:9"],
        &["load", "127.0.0.1:9", "--json"],
        &["serve", "--json", "--max-conns", "0"],
        &["--json", "serve", "--max-conns", "0"],
    ] {
        let line = usage_error(&run(args), &format!("{args:?}"));
        assert!(!line.contains("'--json'"), "{args:?}: {line}");
    }
    // Alone it is not a command.
    let out = run(&["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // Both places at once: still the one flag.
    let line = usage_error(&run(&["--json", "load", "--json"]), "--json twice");
    assert!(line.contains("--conns"), "{line}");
}
