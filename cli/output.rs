//! Plain tables for terminals: aligned columns, no colour, safe to pipe.

use std::fmt;

use serde_json::Value;

pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Fields never shown in tables, even as hashes.
const HIDDEN: &[&str] = &["secret", "token_sha256", "pin", "moderator_pin"];
/// Most columns a generic table shows; `-o json` has everything.
const MAX_COLUMNS: usize = 8;

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// A table of JSON objects: one column per top-level field that holds text, numbers or
    /// lists of them, in the order fields first appear.
    pub fn from_objects(rows: &[Value]) -> Self {
        let mut columns: Vec<String> = Vec::new();
        for row in rows.iter().filter_map(Value::as_object) {
            for (key, value) in row {
                if columns.len() < MAX_COLUMNS
                    && !HIDDEN.contains(&key.as_str())
                    && cell(value).is_some()
                    && !columns.contains(key)
                {
                    columns.push(key.clone());
                }
            }
        }
        let mut table = Self { headers: columns.iter().map(|c| c.to_uppercase()).collect(), rows: Vec::new() };
        for row in rows.iter().filter_map(Value::as_object) {
            table.row(columns.iter().map(|c| row.get(c).and_then(cell).unwrap_or_default()).collect());
        }
        table
    }
}

fn cell(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|v| match v {
                    Value::Object(_) | Value::Array(_) => None,
                    other => cell(other),
                })
                .collect();
            parts.map(|p| p.join(","))
        }
        _ => None,
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            let text: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            writeln!(f, "{}", text.join("  ").trim_end())
        };
        line(f, &self.headers)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

/// Milliseconds since the epoch as local-free UTC text.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()).unwrap_or_default()
}
