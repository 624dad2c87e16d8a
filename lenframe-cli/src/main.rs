//! `lenframe`: the command-line tool (work in progress: see the helper's task).

fn main() {}
