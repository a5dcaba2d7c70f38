//! Throughput micro-benchmark: parse a realistic INVITE with SDP and read what a server
//! reads on every request. Run: `cargo bench --bench sip_parse`.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use pbx::sip::msg::{Limits, parse_datagram};

const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite() -> Bytes {
    let head = format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>;expires=3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: ExamplePhone/5.2.1 (build 4411)\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
P-Asserted-Identity: \"Alice Liddell\" <sip:alice@atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n",
        SDP.len()
    );
    Bytes::from(format!("{head}{SDP}"))
}

fn main() {
    let buf = invite();
    let limits = Limits::default();
    let iterations: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mut sink = 0usize;
    let mut run = |n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            let Ok(m) = parse_datagram(black_box(buf.clone()), &limits) else {
                continue;
            };
            let via = m.top_via().ok();
            sink += via.and_then(|v| v.branch()).map_or(0, str::len);
            sink += m.from().ok().and_then(|f| f.tag()).map_or(0, str::len);
            sink += m.to().ok().and_then(|t| t.tag()).map_or(0, str::len);
            sink += m.call_id().map_or(0, str::len);
            sink += m.cseq().map_or(0, |c| c.seq as usize);
            sink += m
                .contacts()
                .next()
                .and_then(Result::ok)
                .and_then(|c| c.addr().map(|a| a.uri().as_str().len()))
                .unwrap_or(0);
            sink += m.max_forwards().ok().flatten().map_or(0, usize::from);
            sink += m.content_length().ok().flatten().unwrap_or(0);
            black_box(&m);
        }
        start.elapsed()
    };
    let parse_only = |n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(parse_datagram(black_box(buf.clone()), &limits).is_ok());
        }
        start.elapsed()
    };
    parse_only(iterations / 10); // warm-up
    let framing = parse_only(iterations).as_nanos() as f64 / f64::from(iterations);
    println!("parse only (framing, header spans, Content-Length): {framing:.0} ns/message");
    run(iterations / 10); // warm-up
    let elapsed = run(iterations);
    let ns = elapsed.as_nanos() as f64 / f64::from(iterations);
    println!(
        "parse + server accessors on a {}-byte INVITE: {ns:.0} ns/message ({:.0} messages/s, {} iterations, check {})",
        buf.len(),
        1e9 / ns,
        iterations,
        black_box(sink) % 7
    );
}
