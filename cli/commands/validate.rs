//! `pbxctl validate`: offline checks, every problem at once.

use std::path::PathBuf;

use pbx::config::load::read_sources;
use pbx::config::{Diagnostic, LoadedTenant, load_tenants};

use crate::{Format, exit};

/// Reads and checks tenant files; prints every problem and returns them on failure.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LoadedTenant>, Vec<Diagnostic>> {
    let (sources, mut problems) = read_sources(paths);
    if sources.is_empty() && problems.is_empty() {
        problems.push(Diagnostic {
            file: paths.first().map(|p| p.display().to_string()).unwrap_or_default(),
            line: 1,
            column: 1,
            message: "no tenant files (*.toml) found".to_owned(),
            help: Some("name files or directories that hold tenant files".to_owned()),
        });
    }
    match load_tenants(sources, true) {
        Ok(tenants) if problems.is_empty() => Ok(tenants),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

pub fn print_problems(problems: &[Diagnostic]) {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!("error: {} problem(s) found; nothing was changed", problems.len());
}

pub fn run(paths: &[PathBuf], format: Format) -> u8 {
    let result = load(paths);
    match (format, &result) {
        (Format::Json, Ok(tenants)) => {
            println!("{}", serde_json::json!({ "valid": true, "tenants": tenants.len(), "problems": [] }));
        }
        (Format::Json, Err(problems)) => {
            println!("{}", serde_json::json!({ "valid": false, "problems": problems }));
        }
        (Format::Text, Ok(tenants)) => {
            let extensions: usize = tenants.iter().map(|t| t.model.extensions.len()).sum();
            let dids: usize = tenants.iter().map(|t| t.model.dids.len()).sum();
            println!("ok: {} tenant(s), {extensions} extension(s), {dids} DID(s) valid", tenants.len());
        }
        (Format::Text, Err(problems)) => print_problems(problems),
    }
    if result.is_ok() { 0 } else { exit::INVALID }
}
