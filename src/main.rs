//! The `eosim` command line: parses arguments, calls the library, prints, and sets the exit status.
//!
//! Exit status: 0 no violation; 1 violations, stalls or crashes found; 2 bad usage or bad input;
//! 3 internal error (including a replay whose trace hash diverged).

#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

mod allocator;
mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{dispatch, BadInput, Cli};

fn main() -> ExitCode {
    allocator::without_huge_pages();
    // Usage errors exit 2 and --help/--version exit 0, as clap does by default.
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) if error.downcast_ref::<BadInput>().is_some() => {
            // Colour only for a person at a terminal: a log or a test reads plain text.
            let prefix = if std::io::stderr().is_terminal() { "\x1b[1;31merror\x1b[0m" } else { "error" };
            eprintln!("{prefix}: {error:#}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("internal error: {error:#}");
            ExitCode::from(3)
        }
    }
}
