//! The RFC 4475 torture messages and the verdict RFC 4475 §3 asks for each, shared by the
//! parser tests and the over-the-wire tests.

use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject(u16),
    Drop,
}
use Verdict::{Accept, Drop, Reject as Rej};

pub struct Case {
    pub file: &'static str,
    pub section: &'static str,
    pub verdict: Verdict,
    pub app: &'static str,
    pub why: &'static str,
}

const fn case(
    file: &'static str,
    section: &'static str,
    verdict: Verdict,
    app: &'static str,
    why: &'static str,
) -> Case {
    Case { file, section, verdict, app, why }
}

#[rustfmt::skip]
pub const CASES: [Case; 49] = [
    // 3.1.1 Valid messages: parsers must accept them.
    case("wsinv",      "3.1.1.1",  Accept,    "",    "short tortuous INVITE: LWS, folding, escapes are all legal"),
    case("intmeth",    "3.1.1.2",  Accept,    "501", "wide range of valid characters; unknown method gets 501 from the server"),
    case("esc01",      "3.1.1.3",  Accept,    "",    "valid use of the % escaping mechanism"),
    case("escnull",    "3.1.1.4",  Accept,    "",    "escaped NULs in URIs are valid"),
    case("esc02",      "3.1.1.5",  Accept,    "501", "% not used as escape where not allowed; RE%47IST%45R is not REGISTER"),
    case("lwsdisp",    "3.1.1.6",  Accept,    "",    "no LWS between display name and <"),
    case("longreq",    "3.1.1.7",  Accept,    "",    "long values in header fields"),
    case("dblreq",     "3.1.1.8",  Accept,    "",    "extra trailing octets in a UDP datagram are ignored"),
    case("semiuri",    "3.1.1.9",  Accept,    "",    "semicolon-separated parameters in the URI user part"),
    case("transports", "3.1.1.10", Accept,    "",    "varied and unknown transport types in Via"),
    case("mpart01",    "3.1.1.11", Accept,    "",    "multipart MIME body"),
    case("unreason",   "3.1.1.12", Accept,    "",    "unusual (UTF-8) reason phrase"),
    case("noreason",   "3.1.1.13", Accept,    "",    "empty reason phrase"),
    // 3.1.2 Invalid messages.
    case("badinv01",   "3.1.2.1",  Rej(400),  "",    "extraneous header field separators"),
    case("clerr",      "3.1.2.2",  Rej(400),  "",    "Content-Length larger than the datagram (TCP: wait for more)"),
    case("ncl",        "3.1.2.3",  Rej(400),  "",    "negative Content-Length"),
    case("scalar02",   "3.1.2.4",  Rej(400),  "",    "request scalar fields with overlarge values: 400 for the CSeq"),
    case("scalarlg",   "3.1.2.5",  Drop,      "",    "response scalar fields with overlarge values: discard"),
    case("quotbal",    "3.1.2.6",  Rej(400),  "",    "unterminated quoted string in display name"),
    case("ltgtruri",   "3.1.2.7",  Rej(400),  "",    "<> enclosing the Request-URI"),
    case("lwsruri",    "3.1.2.8",  Rej(400),  "",    "malformed Request-URI with embedded LWS"),
    case("lwsstart",   "3.1.2.9",  Accept,    "",    "multiple SP in Request-Line: RFC allows being liberal; we print single SP"),
    case("trws",       "3.1.2.10", Accept,    "",    "SP at end of Request-Line: RFC allows being liberal; we print none"),
    case("escruri",    "3.1.2.11", Rej(400),  "",    "escaped headers in the Request-URI: RFC allows 400, we take it"),
    case("baddate",    "3.1.2.12", Accept,    "",    "non-GMT Date: don't reject unless Date matters; we never use Date"),
    case("regbadct",   "3.1.2.13", Rej(400),  "",    "URI with ?headers not enclosed in <> in Contact"),
    case("badaspec",   "3.1.2.14", Rej(400),  "",    "spaces within addr-spec"),
    case("baddn",      "3.1.2.15", Rej(400),  "",    "non-token characters (comma) in unquoted display name"),
    case("badvers",    "3.1.2.16", Rej(505),  "",    "unknown protocol version SIP/7.0"),
    case("mismatch01", "3.1.2.17", Rej(400),  "",    "start line and CSeq method mismatch"),
    case("mismatch02", "3.1.2.18", Rej(501),  "",    "unknown method with CSeq mismatch: 501 preferred over 400"),
    case("bigcode",    "3.1.2.19", Drop,      "",    "overlarge response code: discard"),
    // 3.2 Transaction layer semantics.
    case("badbranch",  "3.2.1",    Accept,    "400 or RFC 2543 matching", "branch is only the magic cookie: parser must not break"),
    // 3.3 Application layer semantics.
    case("insuf",      "3.3.1",    Rej(400),  "",    "missing required header fields"),
    case("unkscm",     "3.3.2",    Rej(416),  "",    "Request-URI with unknown scheme"),
    case("novelsc",    "3.3.3",    Rej(416),  "",    "Request-URI with known but atypical scheme we never accept"),
    case("unksm2",     "3.3.4",    Accept,    "400 at a registrar", "unknown schemes in To/From/Contact are valid; registrar needs sip/sips To"),
    case("bext01",     "3.3.5",    Accept,    "420", "unsupported Require / Proxy-Require tags"),
    case("invut",      "3.3.6",    Accept,    "415", "unknown Content-Type"),
    case("regaut01",   "3.3.7",    Accept,    "401", "unknown authorization scheme: well formed, registrar re-challenges"),
    case("multi01",    "3.3.8",    Rej(400),  "",    "multiple values in single-value required fields"),
    case("mcl01",      "3.3.9",    Rej(400),  "",    "conflicting Content-Length: 400 over UDP, TCP framing error closes"),
    case("bcast",      "3.3.10",   Accept,    "discard", "200 OK with broadcast Via sent-by: valid, but must not be forwarded"),
    case("zeromf",     "3.3.11",   Accept,    "483 unless answered locally", "Max-Forwards 0: OPTIONS answered by the element itself"),
    case("cparam01",   "3.3.12",   Accept,    "",    "REGISTER with a Contact header parameter"),
    case("cparam02",   "3.3.13",   Accept,    "",    "REGISTER with a URI parameter in Contact"),
    case("regescrt",   "3.3.14",   Accept,    "",    "REGISTER with an escaped header in a bracketed Contact URI"),
    case("sdp01",      "3.3.15",   Accept,    "406", "unacceptable Accept offering"),
    // 3.4 Backward compatibility.
    case("inv2543",    "3.4.1",    Accept,    "",    "RFC 2543 syntax: no Max-Forwards, branch, tag or Content-Length"),
];

pub fn load(file: &str) -> Bytes {
    let path = format!("{}/tests/fixtures/torture/{file}.dat", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read(&path) {
        Ok(b) => Bytes::from(b),
        Err(e) => panic!("{path}: {e}"),
    }
}
