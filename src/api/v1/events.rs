//! `GET /api/v1/events`: the live event stream as Server-Sent Events, scoped like every
//! other endpoint. A subscriber that falls behind gets a `lagged` event saying how many
//! events it missed, and can resynchronise from the list endpoints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as Sse_, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::{ApiState, Principal};
use crate::events::Event;

/// Whether `principal` may see `event`.
fn visible(principal: &Principal, event: &Event) -> bool {
    match principal.tenant() {
        None => true,
        Some(own) if event.tenant.as_deref() != Some(own) => false,
        Some(_) => principal.extension().is_none_or(|ext| event.kind.extensions().contains(&ext)),
    }
}

pub async fn stream(
    State(state): State<ApiState>,
    principal: Principal,
) -> Sse<impl Stream<Item = Result<Sse_, Infallible>>> {
    sse(state.bus.subscribe(), move |event| visible(&principal, event))
}

/// Events from the bus `rx` as Server-Sent Events, keeping the ones `keep` accepts.
pub fn sse(
    rx: tokio::sync::broadcast::Receiver<Arc<Event>>,
    keep: impl Fn(&Event) -> bool + Send + 'static,
) -> Sse<impl Stream<Item = Result<Sse_, Infallible>>> {
    let events = stream::unfold((rx, keep), |(mut rx, keep)| async move {
        crate::events::pace(&rx).await;
        loop {
            match rx.recv().await {
                Ok(event) if keep(&event) => {
                    return Some((Ok(to_sse(&event)), (rx, keep)));
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    let lagged = Sse_::default().event("lagged").data(missed.to_string());
                    return Some((Ok(lagged), (rx, keep)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn to_sse(event: &Arc<Event>) -> Sse_ {
    let data = serde_json::to_string(event.as_ref()).unwrap_or_default();
    Sse_::default().id(event.id.to_string()).event(event.kind.name()).data(data)
}
