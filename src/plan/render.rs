//! Plans as people read them, in the style of terraform: `+` add, `~` change, `-` remove.

use std::fmt::Write;

use super::{Change, Plan};

fn sign(change: Change) -> char {
    match change {
        Change::Add => '+',
        Change::Change => '~',
        Change::Remove => '-',
    }
}

fn show(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}

/// The plan as text, ending with a one-line summary.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes: the running revision already matches.\n");
        return out;
    }
    for tenant in &plan.tenants {
        let _ = writeln!(out, "{} tenant {}", sign(tenant.change), tenant.tenant);
        if tenant.change != Change::Change {
            // A whole tenant comes or goes: counts per kind say enough (JSON has every object).
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for object in &tenant.objects {
                match counts.iter_mut().find(|(kind, _)| *kind == object.kind) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((&object.kind, 1)),
                }
            }
            let summary: Vec<String> = counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            let _ = writeln!(out, "    {} {}", sign(tenant.change), summary.join(", "));
            continue;
        }
        for object in &tenant.objects {
            let key = if object.key.is_empty() { String::new() } else { format!(" {}", object.key) };
            let _ = writeln!(out, "    {} {}{key}", sign(object.change), object.kind);
            for field in &object.fields {
                let _ = writeln!(
                    out,
                    "        {}: {} -> {}",
                    field.path,
                    show(field.old.as_ref()),
                    show(field.new.as_ref())
                );
            }
        }
    }
    let (add, change, remove) = plan.counts();
    let _ = writeln!(
        out,
        "Plan: {add} to add, {change} to change, {remove} to remove, in {} tenant(s).",
        plan.tenants.len()
    );
    out
}
