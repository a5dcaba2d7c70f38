//! Diagnostics people read: `path:line:col: error: message` with a `help:` line.
//!
//! Checks report a problem against a TOML path (`queue[1].members[2]`); the `Locator`
//! turns that path into a line and column of the source by walking a span-keeping parse
//! of the file. Paths keep the checks independent of source positions, and the source is
//! only walked for files that have problems.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

/// One step of a path into a TOML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Name(String),
    Index(usize),
}

/// A path into a TOML document, e.g. `[Key("queue"), Index(1), Key("members")]`.
pub type TomlPath = Vec<Seg>;

/// A problem found in a file, with its position resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.line, self.column, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Resolves spans and paths of one source file to line and column.
pub struct Locator<'a> {
    file: &'a str,
    text: &'a str,
    root: Option<toml::Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let (root, _) = DeTable::parse_recoverable(text);
        Self { file, text, root: Some(root) }
    }

    /// A locator that only resolves spans (for files that are not TOML documents yet).
    pub fn spans_only(file: &'a str, text: &'a str) -> Self {
        Self { file, text, root: None }
    }

    pub fn at_span(&self, span: Option<Range<usize>>, message: String, help: Option<String>) -> Diagnostic {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        Diagnostic { file: self.file.to_owned(), line, column, message, help }
    }

    pub fn at_path(&self, path: &[Seg], message: String, help: Option<String>) -> Diagnostic {
        let span = self.root.as_ref().map(|root| span_of(root, path));
        self.at_span(span, message, help)
    }
}

/// The span of the deepest node of `path` that exists in the document.
fn span_of(root: &toml::Spanned<DeTable<'_>>, path: &[Seg]) -> Range<usize> {
    let mut span = 0..0;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in path {
        let next = match (seg, table, array) {
            (Seg::Key(key), Some(t), _) => t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v),
            (Seg::Name(key), Some(t), _) => t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v),
            (Seg::Index(i), _, Some(items)) => items.get(*i),
            _ => None,
        };
        let Some(node) = next else { break };
        span = node.span();
        table = node.get_ref().as_table();
        array = node.get_ref().as_array().map(|a| &a[..]);
    }
    span
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nü = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('=').unwrap()), (1, 3));
        let second_eq = text.rfind('=').unwrap();
        assert_eq!(line_col(text, second_eq), (2, 3));
    }

    #[test]
    fn paths_resolve_to_the_deepest_existing_node() {
        let text = "[[queue]]\nname = \"a\"\n\n[[queue]]\nname = \"b\"\nmembers = [\"1\", \"2\"]\n";
        let loc = Locator::new("t.toml", text);
        let d = loc.at_path(&[Seg::Key("queue"), Seg::Index(1), Seg::Key("members"), Seg::Index(1)], "m".into(), None);
        assert_eq!((d.line, d.column), (6, 17));
        let d = loc.at_path(&[Seg::Key("queue"), Seg::Index(1), Seg::Key("missing")], "m".into(), None);
        assert_eq!(d.line, 4);
    }
}
