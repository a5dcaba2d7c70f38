//! Test helpers: hand-written REGISTER requests and ready-made bindings.

use crate::sip::msg::{Limits, Message, parse_datagram};

use super::binding::{Binding, Transport};

/// Parses a REGISTER from Call-ID, CSeq, extra header lines (each ending in `\r\n`).
pub(crate) fn register(call_id: &str, cseq: u32, extra: &str) -> Message {
    let raw = format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{call_id}{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@pbx.example.com>;tag=f1\r\n\
To: <sip:alice@pbx.example.com>\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} REGISTER\r\n\
User-Agent: TestPhone/1.0\r\n\
{extra}Content-Length: 0\r\n\r\n"
    );
    parse_datagram(raw.into_bytes().into(), &Limits::default()).unwrap()
}

pub(crate) fn binding(contact: &str, q: u16, expires_at: u64) -> Binding {
    Binding {
        contact: contact.to_owned(),
        q_millis: q,
        expires_at,
        call_id: "c1".to_owned(),
        cseq: 1,
        source: "192.0.2.1:5060".parse().unwrap(),
        transport: Transport::Udp,
        flow: None,
        behind_nat: false,
        user_agent: None,
        registered_at: 0,
    }
}
