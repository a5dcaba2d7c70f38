//! Datagram parsing, validation, every typed accessor and the printer must never panic,
//! and a message that parses must re-parse after printing.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pbx::sip::msg::{Limits, ResponseBuilder, check_request, check_response, parse_datagram, parse_head};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let buf = Bytes::copy_from_slice(data);
    if let Ok(m) = parse_datagram(buf.clone(), &limits) {
        let _ = check_request(&m);
        let _ = check_response(&m);
        let _ = m.vias().count();
        let _ = (m.from(), m.to(), m.call_id(), m.cseq(), m.max_forwards(), m.content_type());
        let _ = m.contacts().count();
        for a in m.authorizations().flatten() {
            let _ = a.digest().map(|d| (d.username(), d.nc(), d.algorithm()));
        }
        // Printing may add a Content-Length header and a few bytes of spacing.
        let roomy = Limits { max_message_size: limits.max_message_size * 2, max_headers: limits.max_headers + 1 };
        assert!(parse_datagram(m.to_bytes(), &roomy).is_ok(), "printed message must re-parse");
    }
    if let Ok(m) = parse_head(buf, &limits) {
        let _ = ResponseBuilder::new(&m, 400).to_tag("fuzz").build();
    }
});
