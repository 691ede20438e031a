//! `eosim teach`: the lessons listed, or one run: a stored repro replayed, drawn, checked and explained.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;

use super::shared::{bad_input, emit, write_file};
use super::TeachArgs;

/// `eosim teach`: the lessons listed, or one run and explained.
pub(super) fn command_teach(args: &TeachArgs) -> anyhow::Result<ExitCode> {
    use eosim::teach::{self, diagram::DiagramOptions, lessons};
    let all = lessons::all().context("the lessons are invalid")?;
    let Some(arg) = &args.lesson else {
        emit(&teach::list_text(&all))?;
        return Ok(ExitCode::SUCCESS);
    };
    let lesson = lessons::find(&all, arg).map_err(bad_input)?;
    let runs = teach::run_lesson(lesson).context("the lesson does not show what it teaches")?;
    let color = std::io::stdout().is_terminal();
    let options = DiagramOptions { width_chars: args.width as usize, color, ..DiagramOptions::default() };
    emit(&teach::lesson_text(&all, lesson, &runs, &options))?;
    if let Some(path) = &args.html {
        write_file(path, &teach::html::lesson_page(&all, lesson, &runs))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
