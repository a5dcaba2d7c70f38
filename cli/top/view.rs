//! Drawing `pbxctl top`: a header, the panel tabs, the current panel as a table (only the
//! rows that fit are built, so a thousand calls cost what a screenful does), and a footer
//! with the keys. Any terminal size works; tiny ones just show less.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Tabs};

use super::state::{Tab, TopState};

fn clock(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn time_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%H:%M:%S").to_string()).unwrap_or_default()
}

pub fn render(frame: &mut Frame, state: &TopState) {
    let [header, tabs, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)])
            .areas(frame.area());
    let tenant = state.tenant.as_deref().unwrap_or("all tenants");
    let title = format!(
        " pbx top · {} · {} · {} calls · {} registrations · {}",
        state.server,
        tenant,
        state.calls.values().filter(|c| state.tenant.as_ref().is_none_or(|t| *t == c.tenant)).count(),
        state.registrations.iter().filter(|r| state.tenant.as_ref().is_none_or(|t| *t == r.tenant)).count(),
        state.connection
    );
    frame.render_widget(Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)), header);
    let selected = Tab::ALL.iter().position(|t| *t == state.tab).unwrap_or(0);
    frame.render_widget(
        Tabs::new(Tab::ALL.iter().map(|t| t.title()))
            .select(selected)
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED)),
        tabs,
    );
    match state.tab {
        Tab::Calls => calls(frame, body, state),
        Tab::Registrations => registrations(frame, body, state),
        Tab::Trunks => trunks(frame, body, state),
        Tab::Queues => empty(frame, body, "Queues", "no queue has callers waiting"),
        Tab::Cdrs => cdrs(frame, body, state),
    }
    let keys = if state.editing_filter {
        format!(" filter: {}▏  (Enter keeps it, Esc clears it)", state.filter)
    } else if state.filter.is_empty() {
        " Tab panels · / filter · t tenant · ↑↓ scroll · q quit".to_owned()
    } else {
        format!(" filter \"{}\" · Tab panels · / filter · t tenant · q quit", state.filter)
    };
    frame.render_widget(Paragraph::new(keys), footer);
}

fn empty(frame: &mut Frame, area: Rect, title: &str, text: &str) {
    frame.render_widget(Paragraph::new(text).block(Block::new().borders(Borders::TOP).title(title)), area);
}

/// The rows that fit in `area` after `scroll`, as a bordered table.
fn table(
    frame: &mut Frame,
    area: Rect,
    title: String,
    header: &[&str],
    widths: &[Constraint],
    rows: Vec<Vec<String>>,
    scroll: usize,
) {
    let fits = usize::from(area.height.saturating_sub(2));
    let start = scroll.min(rows.len().saturating_sub(fits));
    let shown = rows.into_iter().skip(start).take(fits).map(Row::new);
    let header = Row::new(header.iter().copied()).style(Style::new().add_modifier(Modifier::BOLD));
    frame.render_widget(
        Table::new(shown, widths.to_vec()).header(header).block(Block::new().borders(Borders::TOP).title(title)),
        area,
    );
}

fn calls(frame: &mut Frame, area: Rect, state: &TopState) {
    let mut calls: Vec<_> = state
        .calls
        .values()
        .filter(|c| state.shows(&c.tenant, &[&c.tenant, &c.caller, &c.callee, &c.state, &c.codec]))
        .collect();
    calls.sort_by_key(|c| (c.start_ms, c.id));
    let total = calls.len();
    let rows = calls
        .into_iter()
        .map(|c| {
            let since = if c.answer_ms > 0 { c.answer_ms } else { c.start_ms };
            vec![
                c.tenant.clone(),
                c.caller.clone(),
                c.callee.clone(),
                c.state.clone(),
                clock((state.now_ms - since) / 1000),
                c.codec.clone(),
            ]
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Min(6),
    ];
    table(
        frame,
        area,
        format!("Calls ({total})"),
        &["TENANT", "FROM", "TO", "STATE", "DURATION", "CODEC"],
        &widths,
        rows,
        state.scroll,
    );
}

fn registrations(frame: &mut Frame, area: Rect, state: &TopState) {
    let rows: Vec<Vec<String>> = state
        .registrations
        .iter()
        .filter(|r| state.shows(&r.tenant, &[&r.tenant, &r.aor, &r.contact, &r.source, &r.user_agent]))
        .map(|r| {
            let source = if r.behind_nat { format!("{} (NAT)", r.source) } else { r.source.clone() };
            vec![
                r.tenant.clone(),
                r.aor.clone(),
                source,
                r.transport.clone(),
                r.user_agent.clone(),
                format!("{}s", r.expires_in),
            ]
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(28),
        Constraint::Length(24),
        Constraint::Length(9),
        Constraint::Min(10),
        Constraint::Length(8),
    ];
    let title = format!("Registrations ({})", rows.len());
    table(
        frame,
        area,
        title,
        &["TENANT", "AOR", "SOURCE", "TRANSPORT", "USER AGENT", "EXPIRES"],
        &widths,
        rows,
        state.scroll,
    );
}

fn trunks(frame: &mut Frame, area: Rect, state: &TopState) {
    if state.trunks.is_empty() {
        return empty(frame, area, "Trunks", "no tenant has a trunk");
    }
    let rows: Vec<Vec<String>> = state
        .trunks
        .iter()
        .filter(|t| state.shows(&t.tenant, &[&t.tenant, &t.name, &t.host, &t.state, &t.registration, &t.reason]))
        .map(|t| {
            vec![
                t.tenant.clone(),
                t.name.clone(),
                format!("{}:{} ({})", t.host, t.port, t.transport),
                t.state.clone(),
                t.registration.clone(),
                t.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_default(),
                clock((state.now_ms - t.since_ms) / 1000),
                t.reason.clone(),
            ]
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(28),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let title = format!("Trunks ({})", rows.len());
    table(
        frame,
        area,
        title,
        &["TENANT", "TRUNK", "CARRIER", "STATE", "REGISTERED", "RTT", "SINCE", "WHY"],
        &widths,
        rows,
        state.scroll,
    );
}

fn cdrs(frame: &mut Frame, area: Rect, state: &TopState) {
    let rows: Vec<Vec<String>> = state
        .cdrs
        .iter()
        .filter(|c| state.shows(&c.tenant, &[&c.tenant, &c.caller, &c.callee, &c.disposition, &c.hangup_cause]))
        .map(|c| {
            vec![
                time_of(c.start_ms),
                c.tenant.clone(),
                c.caller.clone(),
                c.callee.clone(),
                c.disposition.clone(),
                clock((c.end_ms - c.start_ms) / 1000),
                format!("{} ({})", c.hangup_cause, c.hangup_side),
            ]
        })
        .collect();
    let widths = [
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let title = format!("Latest CDRs ({})", rows.len());
    table(
        frame,
        area,
        title,
        &["START", "TENANT", "FROM", "TO", "RESULT", "LENGTH", "HANGUP"],
        &widths,
        rows,
        state.scroll,
    );
}

/// The screen as text, one line per row, for tests.
#[cfg(test)]
pub fn text_of(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol().to_owned()).collect();
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
