//! Stream framing must never panic, never claim more bytes than it was given, and a
//! framed message must parse with the stream rules or fail cleanly.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pbx::sip::msg::{Frame, Limits, frame_stream, parse_stream_message};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match frame_stream(data, &limits) {
        Ok(Some(Frame::Message(n))) => {
            assert!(n <= data.len());
            let _ = parse_stream_message(Bytes::copy_from_slice(&data[..n]), &limits);
        }
        Ok(Some(Frame::KeepAlive(n))) => assert!(n > 0 && n <= data.len()),
        Ok(None) | Err(_) => {}
    }
});
