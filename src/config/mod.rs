//! The tenant model and its path from files to a checked desired state.
//!
//! `load` reads and parses files (syntax and shape), `check` applies the semantic rules,
//! `diag` turns problems into `path:line:col` diagnostics, `daemon` is pbxd's own config.

pub mod check;
pub mod daemon;
pub mod diag;
pub mod load;
pub mod model;

use std::collections::HashMap;

pub use diag::Diagnostic;
pub use load::{LoadedTenant, TenantSource};

/// Parses and checks tenant sources that will run together; every problem, or the tenants.
pub fn load_tenants(sources: Vec<TenantSource>, files_on_disk: bool) -> Result<Vec<LoadedTenant>, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut tenants = Vec::with_capacity(sources.len());
    let mut files_by_id: HashMap<String, String> = HashMap::new();
    for source in sources {
        if let Some(first) = files_by_id.insert(source.id.clone(), source.file.clone()) {
            problems.push(Diagnostic {
                file: source.file.clone(),
                line: 1,
                column: 1,
                message: format!("tenant id \"{}\" is given twice, also by {first}", source.id),
                help: Some("each tenant is one file; rename or remove one of them".to_owned()),
            });
            continue;
        }
        match load::parse_tenant(&source) {
            Ok(model) => tenants.push(LoadedTenant { source, model }),
            Err(mut p) => problems.append(&mut p),
        }
    }
    problems.extend(check::check_tenants(&tenants, files_on_disk));
    // Read top to bottom, file by file, like a compiler's output.
    problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    if problems.is_empty() { Ok(tenants) } else { Err(problems) }
}

/// The generated documents, by file name, as pretty JSON: the JSON Schemas of tenant files
/// and pbxd.toml, and the OpenAPI document of the reporting API.
pub fn schemas() -> Vec<(&'static str, String)> {
    let pretty = |schema: schemars::Schema| serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
    vec![
        ("tenant.schema.json", pretty(schemars::schema_for!(model::TenantFile))),
        ("pbxd.schema.json", pretty(schemars::schema_for!(daemon::DaemonConfig))),
        ("openapi.json", serde_json::to_string_pretty(&crate::api::v1::openapi::openapi()).unwrap_or_default() + "\n"),
    ]
}
