//! Embeds every bug-zoo entry (`scenarios/zoo/*.toml`) in the binary, so that `eosim zoo` runs from any
//! directory and a new entry needs no code change: this lists the directory and writes `ZOO_FILES` into
//! `$OUT_DIR/zoo_files.rs`, which `src/zoo/entries.rs` includes.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let zoo_dir = Path::new(&manifest_dir).join("scenarios/zoo");
    // A directory makes cargo rerun this script when any file in it is added, removed or changed.
    println!("cargo:rerun-if-changed=scenarios/zoo");
    println!("cargo:rerun-if-changed=build.rs");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&zoo_dir) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap_or_else(|error| panic!("{}: {error}", zoo_dir.display())).path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
            .collect(),
        Err(error) => panic!("{}: cannot list the bug zoo: {error}", zoo_dir.display()),
    };
    // Name order, so that the binary (and `eosim zoo --list`) is the same whatever order the file system lists.
    files.sort();
    let mut code =
        String::from("/// Every `scenarios/zoo/*.toml`, in name order: (path in the repository, TOML text).\n");
    code.push_str("pub const ZOO_FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        let name = path.file_name().expect("a listed file has a name").to_string_lossy();
        let absolute = path.to_str().unwrap_or_else(|| panic!("{}: the path is not UTF-8", path.display()));
        code.push_str(&format!("    ({:?}, include_str!({absolute:?})),\n", format!("scenarios/zoo/{name}")));
    }
    code.push_str("];\n");
    let target = Path::new(&out_dir).join("zoo_files.rs");
    std::fs::write(&target, code).unwrap_or_else(|error| panic!("{}: {error}", target.display()));
}
