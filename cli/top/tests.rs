//! `pbxctl top` on ratatui's TestBackend: what each panel shows for a given state, keys,
//! tiny terminals, and a thousand calls.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::state::{Snapshot, Tab, TopState};
use super::view::{render, text_of};
use pbx::call::CallView;
use pbx::events::{Event, EventKind};
use pbx::sip::core::RegistrationView;
use pbx::store::Cdr;
use pbx::trunk::TrunkView;

const NOW: i64 = 1_795_680_000_000;

fn call(id: u64, tenant: &str, caller: &str, callee: &str, state: &str, started_s_ago: i64) -> CallView {
    CallView {
        id,
        tenant: tenant.into(),
        caller: caller.into(),
        callee: callee.into(),
        state: state.into(),
        start_ms: NOW - started_s_ago * 1000,
        answer_ms: if state == "answered" { NOW - started_s_ago * 1000 + 2000 } else { 0 },
        codec: if state == "answered" { "PCMU".into() } else { String::new() },
        legs: vec![format!("call-{id}"), format!("b-{id}")],
        session: None,
    }
}

fn state() -> TopState {
    let mut s = TopState::new("unix:/run/pbx/admin.sock", None);
    s.connection = "live".into();
    s.now_ms = NOW;
    s.snapshot(Snapshot {
        calls: vec![call(1, "acme", "101", "102", "answered", 95), call(2, "globex", "21", "22", "ringing", 4)],
        registrations: vec![RegistrationView {
            tenant: "acme".into(),
            aor: "101@acme.pbx.example.net".into(),
            contact: "sip:101@192.0.2.7:5060".into(),
            source: "198.51.100.7:40321".into(),
            transport: "UDP".into(),
            user_agent: "baresip 1.0".into(),
            expires_in: 312,
            behind_nat: true,
        }],
        trunks: vec![TrunkView {
            tenant: "acme".into(),
            name: "carrier".into(),
            host: "sip.carrier.net".into(),
            port: 5060,
            transport: "udp".into(),
            state: "up".into(),
            registration: "registered".into(),
            reason: String::new(),
            rtt_ms: Some(23.4),
            since_ms: NOW - 3_600_000,
        }],
        cdrs: Vec::new(),
    });
    s
}

fn screen(state: &TopState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render(f, state)).unwrap();
    text_of(terminal.backend().buffer())
}

fn press(state: &mut TopState, code: KeyCode) -> bool {
    state.key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn the_calls_panel() {
    insta::assert_snapshot!(screen(&state(), 90, 8));
}

#[test]
fn the_trunks_panel_follows_trunk_events() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.tab, Tab::Trunks);
    insta::assert_snapshot!(screen(&s, 110, 6));
    let mut down = s.trunks[0].clone();
    down.state = "down".into();
    down.reason = "the carrier does not answer".into();
    down.since_ms = NOW - 5_000;
    s.event(Event { id: 2, time_ms: NOW, tenant: Some("acme".into()), kind: EventKind::TrunkStatus { trunk: down } });
    let text = screen(&s, 130, 6);
    assert!(text.contains("down") && text.contains("does not answer") && text.contains("0:00:05"), "{text}");
    assert_eq!(s.trunks.len(), 1);
}

#[test]
fn tab_moves_to_registrations_and_t_picks_a_tenant() {
    let mut s = state();
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.tab, Tab::Registrations);
    insta::assert_snapshot!(screen(&s, 100, 6));
    press(&mut s, KeyCode::BackTab);
    press(&mut s, KeyCode::Char('t'));
    assert_eq!(s.tenant.as_deref(), Some("acme"));
    let text = screen(&s, 90, 8);
    assert!(text.contains("101") && !text.contains("globex"), "{text}");
    press(&mut s, KeyCode::Char('t'));
    assert_eq!(s.tenant.as_deref(), Some("globex"));
    press(&mut s, KeyCode::Char('t'));
    assert_eq!(s.tenant, None, "back to all tenants");
}

#[test]
fn slash_filters_rows_and_q_quits() {
    let mut s = state();
    press(&mut s, KeyCode::Char('/'));
    for c in "ring".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    assert!(screen(&s, 90, 8).contains("filter: ring"));
    press(&mut s, KeyCode::Enter);
    let text = screen(&s, 90, 8);
    assert!(text.contains("ringing") && !text.contains("answered"), "{text}");
    assert!(!press(&mut s, KeyCode::Char('x')));
    assert!(press(&mut s, KeyCode::Char('q')));
}

#[test]
fn events_move_a_call_to_the_cdrs() {
    let mut s = state();
    let cdr = Cdr {
        id: "c1".into(),
        tenant: "acme".into(),
        call_id: "call-1".into(),
        direction: "internal".into(),
        caller: "101".into(),
        callee: "102".into(),
        start_ms: NOW - 95_000,
        answer_ms: NOW - 93_000,
        end_ms: NOW,
        billsec: 93,
        disposition: "answered".into(),
        hangup_cause: "BYE".into(),
        hangup_side: "caller".into(),
        codec: "PCMU".into(),
        legs: Vec::new(),
        did: String::new(),
        queue: String::new(),
    };
    s.event(Event { id: 1, time_ms: NOW, tenant: Some("acme".into()), kind: EventKind::CallEnded { cdr } });
    assert_eq!(s.calls.len(), 1, "the ended call left the panel");
    s.tab = Tab::Cdrs;
    let text = screen(&s, 100, 6);
    assert!(text.contains("answered") && text.contains("BYE (caller)") && text.contains("0:01:35"), "{text}");
}

#[test]
fn any_terminal_size_is_drawn_without_panicking() {
    let s = state();
    for (w, h) in [(1, 1), (10, 2), (20, 4), (300, 100)] {
        screen(&s, w, h);
    }
}

#[test]
fn a_thousand_calls_show_the_count_and_the_first_screenful() {
    let mut s = state();
    for i in 0..1000 {
        s.calls.insert(100 + i, call(100 + i, "acme", "101", "102", "answered", i as i64));
    }
    let text = screen(&s, 160, 50);
    assert!(text.contains("Calls (1002)"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains("PCMU")).count(), 45, "only the rows that fit are drawn");
}
