//! The README's "Protobuf over TCP" program is `examples/protobuf_over_tcp.rs`
//! as it is (run by this package's doctest): the README's copy cannot
//! drift from the program that runs.

#[test]
fn the_readme_shows_the_program_that_runs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let program =
        std::fs::read_to_string(format!("{root}/interop/examples/protobuf_over_tcp.rs")).unwrap();
    let section = readme
        .split("\n## Protobuf over TCP\n")
        .nth(1)
        .expect("a section \"Protobuf over TCP\" in README.md");
    let block = section
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```\n").next())
        .expect("a ```rust,ignore block in the section");
    assert_eq!(
        format!("{block}\n"),
        program,
        "README.md's Protobuf over TCP program differs from interop/examples/protobuf_over_tcp.rs"
    );
}
