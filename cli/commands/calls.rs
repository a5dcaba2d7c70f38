//! `pbxctl calls` (live calls) and `pbxctl cdr` (finished calls).

use pbx::call::CallView;
use pbx::store::Cdr;

use crate::Output;
use crate::client::Server;
use crate::output::{Table, format_time};

pub fn calls(server: &Server, tenant: Option<&str>, output: Output) -> u8 {
    let path = match tenant {
        Some(t) => format!("/v1/calls?tenant={t}"),
        None => "/v1/calls".to_owned(),
    };
    let rows = match server.get::<Vec<CallView>>(&path) {
        Ok(rows) => rows,
        Err(e) => return e.report(),
    };
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
        Output::Table => {
            let now = now_ms();
            let mut table = Table::new(&["TENANT", "FROM", "TO", "STATE", "DURATION", "CODEC", "CALL-ID"]);
            for c in rows {
                let since = if c.answer_ms > 0 { c.answer_ms } else { c.start_ms };
                table.row(vec![
                    c.tenant,
                    c.caller,
                    c.callee,
                    c.state,
                    clock((now - since).max(0) / 1000),
                    c.codec,
                    c.legs.first().cloned().unwrap_or_default(),
                ]);
            }
            print!("{table}");
        }
    }
    0
}

/// Output formats of `pbxctl cdr`.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum CdrOutput {
    Table,
    Json,
    Csv,
}

pub fn cdr(server: &Server, tenant: Option<&str>, since: Option<&str>, limit: i64, output: CdrOutput) -> u8 {
    let mut path = format!("/v1/cdrs?limit={limit}");
    if let Some(t) = tenant {
        path.push_str(&format!("&tenant={t}"));
    }
    if let Some(since) = since {
        match parse_since(since) {
            Some(ms) => path.push_str(&format!("&since_ms={ms}")),
            None => {
                eprintln!(
                    "error: --since wants a time (2026-11-26T08:00:00Z, 2026-11-26) or an age (90m, 2h, 7d), not \"{since}\""
                );
                return crate::exit::INVALID;
            }
        }
    }
    let rows = match server.get::<Vec<Cdr>>(&path) {
        Ok(rows) => rows,
        Err(e) => return e.report(),
    };
    match output {
        CdrOutput::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
        CdrOutput::Csv => {
            println!(
                "id,tenant,call_id,direction,caller,callee,start,answer,end,duration_s,billsec,disposition,hangup_cause,hangup_side,codec"
            );
            for c in rows {
                let fields = [
                    c.id.clone(),
                    c.tenant.clone(),
                    c.call_id.clone(),
                    c.direction.clone(),
                    c.caller.clone(),
                    c.callee.clone(),
                    format_time(c.start_ms),
                    if c.answer_ms > 0 { format_time(c.answer_ms) } else { String::new() },
                    format_time(c.end_ms),
                    (c.duration_ms() / 1000).to_string(),
                    c.billsec.to_string(),
                    c.disposition.clone(),
                    c.hangup_cause.clone(),
                    c.hangup_side.clone(),
                    c.codec.clone(),
                ];
                println!("{}", fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            }
        }
        CdrOutput::Table => {
            let mut table =
                Table::new(&["START", "TENANT", "FROM", "TO", "DISPOSITION", "DURATION", "BILLSEC", "HANGUP", "CODEC"]);
            for c in rows {
                table.row(vec![
                    format_time(c.start_ms),
                    c.tenant.clone(),
                    c.caller.clone(),
                    c.callee.clone(),
                    c.disposition.clone(),
                    clock(c.duration_ms() / 1000),
                    c.billsec.to_string(),
                    format!("{} ({})", c.hangup_cause, c.hangup_side),
                    c.codec.clone(),
                ]);
            }
            print!("{table}");
        }
    }
    0
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn clock(secs: i64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// RFC 4180: quote a field holding a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// An instant (RFC 3339, or a date meaning its midnight UTC) or an age before now.
fn parse_since(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return d.in_tz("UTC").ok().map(|z| z.timestamp().as_millisecond());
    }
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(now_ms() - secs * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_instants_dates_and_ages() {
        assert_eq!(parse_since("2026-11-26T00:00:00Z"), Some(1_795_651_200_000));
        assert_eq!(parse_since("2026-11-26"), Some(1_795_651_200_000));
        let hour_ago = parse_since("1h").unwrap();
        assert!((now_ms() - hour_ago - 3_600_000).abs() < 5_000);
        assert_eq!(parse_since("yesterday"), None);
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_field("486 Busy Here"), "486 Busy Here");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
