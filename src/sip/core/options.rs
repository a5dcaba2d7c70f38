//! OPTIONS: what pbxd is and can do (RFC 3261 §11). Also the keep-alive probe many phones
//! and carriers send.

use std::time::Instant;

use super::{ALLOW, Reply, SERVER, SUPPORTED, SipCore};
use crate::sip::msg::{Message, ResponseBuilder};
use crate::sip::transport::Source;

impl SipCore {
    pub(super) fn on_options(&mut self, reply: &Reply, msg: &Message, source: Source, now: Instant) {
        let tag = self.tag();
        let bytes = ResponseBuilder::new(msg, 200)
            .source(source.addr)
            .to_tag(&tag)
            .header("Allow", ALLOW)
            .header("Accept", "application/sdp")
            .header("Accept-Encoding", "identity")
            .header("Accept-Language", "en")
            .header("Supported", SUPPORTED)
            .header("Server", SERVER)
            .build();
        self.send(reply, source, bytes, now);
    }
}
