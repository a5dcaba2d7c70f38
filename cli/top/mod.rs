//! `pbxctl top`: a live dashboard of the node — calls, registrations, trunks, queues and the
//! latest CDRs — in the terminal (ratatui), over the local socket or a remote admin API.

mod feed;
mod state;
mod view;

#[cfg(test)]
mod tests;

use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::client::Server;
use state::TopState;

pub fn run(server: Server, tenant: Option<String>) -> u8 {
    let (tx, rx) = mpsc::channel();
    let mut state = TopState::new(&server.address, tenant.clone());
    std::thread::spawn(move || feed::run(server, tenant, tx));
    let mut terminal = ratatui::init();
    let result = (|| -> std::io::Result<()> {
        loop {
            while let Ok(update) = rx.try_recv() {
                match update {
                    feed::Update::Snapshot(s) => state.snapshot(s),
                    feed::Update::Event(e) => state.event(*e),
                    feed::Update::Connection(c) => state.connection = c,
                }
            }
            state.now_ms = jiff::Timestamp::now().as_millisecond();
            terminal.draw(|frame| view::render(frame, &state))?;
            if event::poll(Duration::from_millis(250))?
                && let TermEvent::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
                && state.key(key)
            {
                return Ok(());
            }
        }
    })();
    ratatui::restore();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: terminal: {e}");
            crate::exit::REFUSED
        }
    }
}
