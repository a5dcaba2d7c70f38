//! What `pbxctl top` shows, and how keys and events change it. No I/O here: the feed
//! hands in snapshots and events, the terminal hands in keys, the view reads.

use std::collections::{BTreeMap, VecDeque};

use pbx::call::CallView;
use pbx::events::{Event, EventKind};
use pbx::sip::core::RegistrationView;
use pbx::store::Cdr;
use pbx::trunk::TrunkView;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Latest CDRs kept.
const CDRS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Calls,
    Registrations,
    Trunks,
    Queues,
    Cdrs,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Calls, Tab::Registrations, Tab::Trunks, Tab::Queues, Tab::Cdrs];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Calls => "Calls",
            Tab::Registrations => "Registrations",
            Tab::Trunks => "Trunks",
            Tab::Queues => "Queues",
            Tab::Cdrs => "Latest CDRs",
        }
    }

    fn next(self) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        Tab::ALL[(i + 1) % Tab::ALL.len()]
    }

    fn previous(self) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        Tab::ALL[(i + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// A full view of the node, fetched by the feed.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub calls: Vec<CallView>,
    pub registrations: Vec<RegistrationView>,
    pub trunks: Vec<TrunkView>,
    pub cdrs: Vec<Cdr>,
}

pub struct TopState {
    pub server: String,
    pub calls: BTreeMap<u64, CallView>,
    pub registrations: Vec<RegistrationView>,
    pub trunks: Vec<TrunkView>,
    pub cdrs: VecDeque<Cdr>,
    pub tab: Tab,
    /// Text every shown row must contain (case-insensitive).
    pub filter: String,
    pub editing_filter: bool,
    /// Only this tenant; `None` shows all.
    pub tenant: Option<String>,
    /// Rows scrolled past in the current panel.
    pub scroll: usize,
    /// "live", or why the feed is down.
    pub connection: String,
    pub now_ms: i64,
}

impl TopState {
    pub fn new(server: &str, tenant: Option<String>) -> TopState {
        TopState {
            server: server.to_owned(),
            calls: BTreeMap::new(),
            registrations: Vec::new(),
            trunks: Vec::new(),
            cdrs: VecDeque::new(),
            tab: Tab::Calls,
            filter: String::new(),
            editing_filter: false,
            tenant,
            scroll: 0,
            connection: "connecting…".to_owned(),
            now_ms: 0,
        }
    }

    pub fn snapshot(&mut self, s: Snapshot) {
        self.calls = s.calls.into_iter().map(|c| (c.id, c)).collect();
        self.registrations = s.registrations;
        self.trunks = s.trunks;
        self.cdrs = s.cdrs.into_iter().take(CDRS).collect();
    }

    pub fn event(&mut self, event: Event) {
        match event.kind {
            EventKind::CallStarted { call } | EventKind::CallRinging { call } | EventKind::CallAnswered { call } => {
                self.calls.insert(call.id, call);
            }
            EventKind::CallEnded { cdr } => {
                self.calls.retain(|_, c| c.legs.first() != Some(&cdr.call_id));
                self.cdrs.push_front(cdr);
                self.cdrs.truncate(CDRS);
            }
            EventKind::TrunkStatus { trunk } => {
                match self.trunks.iter_mut().find(|t| t.tenant == trunk.tenant && t.name == trunk.name) {
                    Some(t) => *t = trunk,
                    None => self.trunks.push(trunk),
                }
            }
            EventKind::RegistrationChanged { .. }
            | EventKind::CallMissed { .. }
            | EventKind::RecordingReady { .. }
            | EventKind::ConfigApplied { .. } => {}
        }
    }

    /// Handles a key; true means quit.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.scroll = 0;
            return false;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return true,
            KeyCode::Tab | KeyCode::Right => {
                self.tab = self.tab.next();
                self.scroll = 0;
            }
            KeyCode::BackTab | KeyCode::Left => {
                self.tab = self.tab.previous();
                self.scroll = 0;
            }
            KeyCode::Char('/') => self.editing_filter = true,
            KeyCode::Char('t') => {
                self.tenant = next_tenant(&self.tenants(), self.tenant.as_deref());
                self.scroll = 0;
            }
            KeyCode::Down | KeyCode::Char('j') => self.scroll = self.scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(20),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(20),
            KeyCode::Home => self.scroll = 0,
            _ => {}
        }
        false
    }

    /// Tenants seen in any panel, sorted.
    pub fn tenants(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .calls
            .values()
            .map(|c| c.tenant.clone())
            .chain(self.registrations.iter().map(|r| r.tenant.clone()))
            .chain(self.cdrs.iter().map(|c| c.tenant.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Whether a row of `tenant` whose cells are `cells` is shown.
    pub fn shows(&self, tenant: &str, cells: &[&str]) -> bool {
        if self.tenant.as_deref().is_some_and(|t| t != tenant) {
            return false;
        }
        let needle = self.filter.to_lowercase();
        needle.is_empty() || cells.iter().any(|c| c.to_lowercase().contains(&needle))
    }
}

/// All, then each tenant in turn, then all again.
fn next_tenant(tenants: &[String], current: Option<&str>) -> Option<String> {
    match current {
        None => tenants.first().cloned(),
        Some(t) => tenants.iter().skip_while(|x| x.as_str() != t).nth(1).cloned(),
    }
}
