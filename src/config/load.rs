//! Reading tenant files: TOML syntax, then shape (the schema), with every problem located.
//!
//! The whole file is deserialized in one pass when it is valid (the common case, and the
//! fast one for large tenants). Only when that fails is it walked section by section and
//! object by object, so that one bad extension does not hide the problems of the others.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diagnostic, Locator};
use super::model::*;

/// A tenant file that parsed: its id, where it came from, and its content.
#[derive(Debug, Clone)]
pub struct TenantSource {
    /// The tenant id: the file name without `.toml`.
    pub id: String,
    /// The path as shown in diagnostics.
    pub file: String,
    /// The text, kept so later checks can point into it.
    pub text: String,
    /// The directory of the file, for sound files; None when the text came over the API.
    pub dir: Option<PathBuf>,
}

/// A tenant source with its parsed model.
#[derive(Debug, Clone)]
pub struct LoadedTenant {
    pub source: TenantSource,
    pub model: TenantFile,
}

/// Reads every `.toml` file named by `paths` (files, or directories read one level deep,
/// in name order).
pub fn read_sources(paths: &[PathBuf]) -> (Vec<TenantSource>, Vec<Diagnostic>) {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                        .collect();
                    files.sort();
                    files
                }
                Err(e) => {
                    problems.push(io_problem(path, &e));
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => sources.push(TenantSource {
                    id: tenant_id_of(&file),
                    file: file.display().to_string(),
                    text,
                    dir: Some(file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
                }),
                Err(e) => problems.push(io_problem(&file, &e)),
            }
        }
    }
    (sources, problems)
}

fn io_problem(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
        help: None,
    }
}

/// The tenant id a file name gives: `tenants/acme.toml` -> `acme`.
pub fn tenant_id_of(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Parses one tenant file into its model, or every syntax and shape problem in it.
pub fn parse_tenant(source: &TenantSource) -> Result<TenantFile, Vec<Diagnostic>> {
    if let Ok(model) = toml::from_str::<TenantFile>(&source.text) {
        return Ok(model);
    }
    let locator = Locator::spans_only(&source.file, &source.text);
    let (root, syntax_errors) = DeTable::parse_recoverable(&source.text);
    if !syntax_errors.is_empty() {
        return Err(syntax_errors
            .iter()
            .map(|e| {
                locator.at_span(e.span(), e.message().trim().to_owned(), Some("fix the TOML syntax here".to_owned()))
            })
            .collect());
    }
    Err(shape_problems(root.into_inner(), &locator))
}

fn shape_error(e: &toml::de::Error, locator: &Locator<'_>) -> Diagnostic {
    let message = e.message().trim().to_owned();
    let help = if message.starts_with("unknown field") {
        Some("check the spelling; schemas/tenant.schema.json lists every field".to_owned())
    } else if message.starts_with("missing field") {
        Some("add the field; schemas/tenant.schema.json describes it".to_owned())
    } else if message.starts_with("invalid type") || message.starts_with("unknown variant") {
        Some("see schemas/tenant.schema.json for the accepted values".to_owned())
    } else {
        None
    };
    locator.at_span(e.span(), message, help)
}

fn check_one<'de, T: Deserialize<'de>>(
    value: toml::Spanned<DeValue<'de>>,
    locator: &Locator<'_>,
    out: &mut Vec<Diagnostic>,
) {
    if let Err(e) = T::deserialize(ValueDeserializer::from(value)) {
        out.push(shape_error(&e, locator));
    }
}

fn check_each<'de, T: Deserialize<'de>>(
    key: &str,
    value: toml::Spanned<DeValue<'de>>,
    locator: &Locator<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => {
            for item in items {
                check_one::<T>(item, locator, out);
            }
        }
        _ => out.push(locator.at_span(
            Some(span),
            format!("`{key}` must be a list of tables"),
            Some(format!("write each one under its own [[{key}]] header")),
        )),
    }
}

/// Deserializes each section and each object on its own to report all shape problems.
fn shape_problems(root: DeTable<'_>, locator: &Locator<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut has_tenant = false;
    for (key, value) in root {
        let key_span = key.span();
        match key.get_ref().as_ref() {
            "tenant" => {
                has_tenant = true;
                check_one::<TenantSettings>(value, locator, &mut out);
            }
            "notifications" => check_one::<Notifications>(value, locator, &mut out),
            "extension" => check_each::<Extension>("extension", value, locator, &mut out),
            "did" => check_each::<Did>("did", value, locator, &mut out),
            "trunk" => check_each::<Trunk>("trunk", value, locator, &mut out),
            "route" => check_each::<Route>("route", value, locator, &mut out),
            "schedule" => check_each::<Schedule>("schedule", value, locator, &mut out),
            "ivr" => check_each::<Ivr>("ivr", value, locator, &mut out),
            "queue" => check_each::<Queue>("queue", value, locator, &mut out),
            "blacklist" => check_each::<Blacklist>("blacklist", value, locator, &mut out),
            "conference" => check_each::<Conference>("conference", value, locator, &mut out),
            "voicemail" => check_each::<Voicemail>("voicemail", value, locator, &mut out),
            "fax" => check_each::<FaxBox>("fax", value, locator, &mut out),
            "sound" => check_each::<Sound>("sound", value, locator, &mut out),
            "webhook" => check_each::<Webhook>("webhook", value, locator, &mut out),
            "api_user" => check_each::<ApiUser>("api_user", value, locator, &mut out),
            other => out.push(locator.at_span(
                Some(key_span),
                format!("unknown section `{other}`"),
                Some(format!("expected one of: {}", OBJECT_KINDS.join(", "))),
            )),
        }
    }
    if !has_tenant {
        out.push(locator.at_span(
            Some(0..0),
            "missing the [tenant] table".to_owned(),
            Some("add [tenant] with name, domains, timezone and extension_digits".to_owned()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> TenantSource {
        TenantSource { id: "t".into(), file: "t.toml".into(), text: text.into(), dir: None }
    }

    const TENANT: &str =
        "[tenant]\nname = \"T\"\ndomains = [\"t.example\"]\ntimezone = \"UTC\"\nextension_digits = 3\n";

    #[test]
    fn valid_file_parses() {
        let text = format!("{TENANT}\n[[extension]]\nnumber = \"101\"\nname = \"A\"\nsecret = \"env:A\"\n");
        let model = parse_tenant(&source(&text)).unwrap();
        assert_eq!(model.extensions[0].number, "101");
        assert_eq!(model.extensions[0].secret, SipSecret::Reference(SecretRef::Env("A".into())));
    }

    #[test]
    fn every_bad_object_is_reported() {
        let text = format!(
            "{TENANT}\n[[extension]]\nnumber = \"101\"\nnmae = \"A\"\nsecret = \"env:A\"\n\n[[extension]]\nnumber = 102\nname = \"B\"\nsecret = \"env:B\"\n"
        );
        let problems = parse_tenant(&source(&text)).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!((problems[0].line, problems[0].column), (9, 1));
        assert!(problems[0].message.contains("nmae"));
        assert_eq!(problems[1].line, 13);
    }
}
