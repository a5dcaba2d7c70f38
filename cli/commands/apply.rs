//! `pbxctl plan`, `apply` and `rollback`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use pbx::api::admin::RollbackRequest;
use pbx::plan::render;
use pbx::reconcile::{ApplyOutcome, ApplyRequest};
use pbx::store::TenantDoc;

use super::validate;
use crate::client::Server;
use crate::{Format, exit};

fn request(paths: &[PathBuf], prune: bool, author: String) -> Result<ApplyRequest, u8> {
    let tenants = validate::load(paths).map_err(|problems| {
        validate::print_problems(&problems);
        exit::INVALID
    })?;
    let tenants =
        tenants.into_iter().map(|t| (t.source.id, TenantDoc { file: t.source.file, text: t.source.text })).collect();
    Ok(ApplyRequest { tenants, prune, author, based_on: None })
}

fn default_author(author: Option<String>) -> String {
    author.unwrap_or_else(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        if host.is_empty() { user } else { format!("{user}@{host}") }
    })
}

pub fn plan(server: &Server, paths: &[PathBuf], prune: bool, format: Format) -> u8 {
    let request = match request(paths, prune, String::new()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match server.post::<_, ApplyOutcome>("/v1/plan", &request) {
        Ok(outcome) => {
            match format {
                Format::Text => print!("{}", render(&outcome.plan)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default()),
            }
            0
        }
        Err(e) => e.report(),
    }
}

/// Asks on the terminal; without one, only `--yes` proceeds.
fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("error: not a terminal, so nothing was applied; pass --yes to apply without asking");
        return false;
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

fn report_applied(outcome: &ApplyOutcome) {
    match &outcome.revision {
        Some(rev) => println!("Applied: revision {} is running.", rev.number),
        None => println!("No changes: revision {} stays.", outcome.base.unwrap_or(0)),
    }
}

pub fn apply(server: &Server, paths: &[PathBuf], prune: bool, yes: bool, author: Option<String>) -> u8 {
    let mut request = match request(paths, prune, default_author(author)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let planned = match server.post::<_, ApplyOutcome>("/v1/plan", &request) {
        Ok(outcome) => outcome,
        Err(e) => return e.report(),
    };
    print!("{}", render(&planned.plan));
    if planned.plan.is_empty() {
        return 0;
    }
    if !yes && !confirm("Apply these changes?") {
        return exit::REFUSED;
    }
    // Apply exactly what was shown: refused if another apply got in between.
    request.based_on = planned.base;
    match server.post::<_, ApplyOutcome>("/v1/apply", &request) {
        Ok(outcome) => {
            report_applied(&outcome);
            0
        }
        Err(e) => e.report(),
    }
}

pub fn rollback(server: &Server, to: Option<i64>, yes: bool, author: Option<String>) -> u8 {
    let target = to.map_or_else(|| "the previous revision".to_owned(), |n| format!("revision {n}"));
    if !yes && !confirm(&format!("Roll back to {target}?")) {
        return exit::REFUSED;
    }
    match server.post::<_, ApplyOutcome>("/v1/rollback", &RollbackRequest { to, author: default_author(author) }) {
        Ok(outcome) => {
            print!("{}", render(&outcome.plan));
            report_applied(&outcome);
            0
        }
        Err(e) => e.report(),
    }
}
