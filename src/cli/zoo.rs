//! `eosim zoo`: the bug zoo; each historical Kafka bug found, its first find shrunk and replayed, its fix run
//! clean.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use eosim::campaign::default_jobs;

use super::shared::{bad_input, create_dir, emit, exit_for, write_file};
use super::{Format, ZooArgs};

/// `eosim zoo`: each historical bug found, shrunk and replayed, its fix run clean.
pub(super) fn command_zoo(args: &ZooArgs) -> anyhow::Result<ExitCode> {
    use eosim::zoo::{self, entries};
    let all = entries::all().context("a bug-zoo entry is invalid")?;
    let selected = entries::select(all, &args.bugs).map_err(bad_input)?;
    if args.list {
        let width = selected.iter().map(|entry| entry.bug().len()).max().unwrap_or(0);
        let lines: Vec<String> = selected
            .iter()
            .map(|entry| format!("{:<width$}  {}  {}\n", entry.bug(), entry.file, entry.spec.title))
            .collect();
        emit(&lines.concat())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &args.out {
        create_dir(dir)?;
    }
    let jobs = args.jobs.map_or_else(default_jobs, |jobs| jobs as usize);
    let options =
        zoo::ZooOptions { ranges: args.ranges, fix_seeds: args.fix_seeds, jobs, seed_budget_cap: args.seed_budget };
    let start = Instant::now();
    let mut reports = Vec::with_capacity(selected.len());
    for entry in &selected {
        eprintln!("{}: finding, shrinking, running the fix ({})", entry.bug(), entry.file);
        let run = zoo::run_entry(entry, options)?;
        if let (Some(dir), Some(repro)) = (&args.out, &run.repro) {
            write_file(&dir.join(format!("{}.repro.json", entry.bug())), &repro.to_json())?;
        }
        reports.push(run.report);
    }
    let report = zoo::ZooReport::new(args.ranges, args.fix_seeds, reports);
    if let Some(dir) = &args.out {
        write_file(&dir.join("zoo.json"), &report.to_json())?;
    }
    let text = match args.format {
        Format::Json => report.to_json(),
        Format::Text => {
            let wall = format!("wall time: {:.1} s\n", start.elapsed().as_secs_f64());
            zoo::report::render_table(&report) + &wall
        }
    };
    emit(&text)?;
    Ok(exit_for(!report.ok))
}
