//! The `lenframe` command line as a user meets it: `--help` and
//! `--version` on stdout with exit 0, quiet when stdout closes early
//! (`lenframe --help | head -1`), `lenframe` alone or an unknown command
//! as a usage error (exit 2).

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
    for flag in ["--conns", "--frames", "--size", "--pingpong", "--json"] {
        assert!(text.contains(flag), "load --help lacks {flag}: {text}");
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
    assert!(err.contains("Usage: lenframe <COMMAND>"), "{err}");
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
