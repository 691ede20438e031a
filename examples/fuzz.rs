//! Fuzzes eosim's readers: `cargo run --release --example fuzz -- [--target NAME]... [--execs N] [--seed S]
//! [--run-every K] [--crashes DIR] [--stall-seconds T] [--save-each]`.
//!
//! Runs N inputs per target (every target by default) from seed S, prints the executions, acceptances and
//! crashes of each, writes each crashing input to DIR/TARGET-N.bin, and exits 1 if any target crashed or one
//! input ran longer than T seconds (a hang; its input is written too), else 0. A failed allocation aborts the
//! process, which no hook on stable Rust can catch: `--save-each` writes every input to DIR/TARGET-current.bin
//! before it runs, so the last one is there after an abort. See docs/fuzzing.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eosim::fuzz::{fuzz_target, target, FuzzOptions, TARGET_NAMES};

/// The command line, parsed.
struct Args {
    targets: Vec<String>,
    options: FuzzOptions,
    run_every: u64,
    crashes: PathBuf,
    stall: Duration,
    save_each: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        targets: Vec::new(),
        options: FuzzOptions { seed: 0, execs: 10_000 },
        run_every: 25,
        crashes: PathBuf::from("target/fuzz-crashes"),
        stall: Duration::from_secs(60),
        save_each: false,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let mut value = || words.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|_| format!("{flag}: expected a number, not {text:?}"));
        match flag.as_str() {
            "--target" => args.targets.push(value()?),
            "--execs" => args.options.execs = number(value()?)?,
            "--seed" => args.options.seed = number(value()?)?,
            "--run-every" => args.run_every = number(value()?)?.max(1),
            "--crashes" => args.crashes = PathBuf::from(value()?),
            "--stall-seconds" => args.stall = Duration::from_secs(number(value()?)?.max(1)),
            "--save-each" => args.save_each = true,
            _ => return Err(format!("unknown argument {flag:?} (see the header of examples/fuzz.rs)")),
        }
    }
    if args.targets.is_empty() {
        args.targets = TARGET_NAMES.iter().map(|name| name.to_string()).collect();
    }
    Ok(args)
}

/// The input running now, for the watchdog: target, execution number, bytes, and when it started.
type Current = Arc<Mutex<(String, u64, Vec<u8>, Instant)>>;

/// Exits the process when one input runs past `stall`: a hang cannot be caught like a panic.
fn watchdog(current: Current, stall: Duration, crashes: PathBuf) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let (name, exec, input, started) = current.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        if started.elapsed() > stall {
            let path = write_input(&crashes, &format!("{name}-hang-{exec}"), &input);
            eprintln!("fuzz: {name}: input {exec} ran past {} s (a hang); input in {path}", stall.as_secs());
            std::process::exit(1);
        }
    });
}

fn write_input(dir: &Path, stem: &str, input: &[u8]) -> String {
    let path = dir.join(format!("{stem}.bin"));
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, input));
    match written {
        Ok(()) => path.display().to_string(),
        Err(error) => format!("(not written: {error})"),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let current: Current = Arc::new(Mutex::new((String::new(), 0, Vec::new(), Instant::now())));
    watchdog(current.clone(), args.stall, args.crashes.clone());
    let (mut total, mut crashed) = (0, false);
    for name in &args.targets {
        let target = match target(name, root, args.run_every) {
            Ok(target) => target,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
        let started = Instant::now();
        let before = |exec: u64, input: &[u8]| {
            if args.save_each {
                write_input(&args.crashes, &format!("{name}-current"), input);
            }
            *current.lock().unwrap_or_else(|poison| poison.into_inner()) =
                (name.clone(), exec, input.to_vec(), Instant::now());
        };
        let report = fuzz_target(&target, args.options, &before);
        total += report.execs;
        println!(
            "fuzz: {name}: {} execs ({} seed inputs), {} accepted, {} rejected, {} crashes, {:.1} s, seed {}",
            report.execs,
            target.corpus.len(),
            report.accepted,
            report.rejected,
            report.crashes.len(),
            started.elapsed().as_secs_f64(),
            args.options.seed
        );
        for (index, crash) in report.crashes.iter().enumerate() {
            let path = write_input(&args.crashes, &format!("{name}-{index}"), &crash.input);
            println!("  crash: {} (input in {path})", crash.message);
            crashed = true;
        }
    }
    println!("fuzz: {total} execs in all, {}", if crashed { "crashes found" } else { "no crash" });
    if crashed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
