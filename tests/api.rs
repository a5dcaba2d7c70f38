//! The reporting API over real HTTP against a running pbxd: who sees what (operator, tenant
//! admin, employee), 401 / 403 / 404 / 429, CDR paging and CSV, the OpenAPI document, metrics
//! and the live event stream.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use pbx::store::{Cdr, CdrLeg, Recording, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

const OPERATOR: &str = "operator-token-for-tests";
const ACME_ADMIN: &str = "password"; // examples/tenants/acme.toml: crm-sync
const ALICE: &str = "123"; // examples/tenants/acme.toml: alice, employee of 101
const GLOBEX_ADMIN: &str = "globex-admin-token";
/// The stored recordings' content (text, so responses read as strings).
const AUDIO: &str = "RIFF....WAVEfmt 0123456789abcdefghijklmnopqrstuvwxyz";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

struct Response {
    status: u16,
    headers: String,
    body: String,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// GET over HTTP/1.1 with an optional bearer token.
fn get(addr: &str, path: &str, token: Option<&str>) -> Response {
    get_with(addr, path, token, "")
}

/// GET with extra header lines (each ending in CRLF).
fn get_with(addr: &str, path: &str, token: Option<&str>, headers: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: pbx\r\n{auth}{headers}Connection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    Response { status, headers: head.to_owned(), body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn cdr(id: &str, tenant: &str, caller: &str, callee: &str, start_ms: i64, disposition: &str) -> Cdr {
    Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: format!("{id}@test"),
        direction: "internal".into(),
        caller: caller.into(),
        callee: callee.into(),
        start_ms,
        answer_ms: if disposition == "answered" { start_ms + 3_000 } else { 0 },
        end_ms: start_ms + 63_000,
        billsec: if disposition == "answered" { 60 } else { 0 },
        disposition: disposition.into(),
        hangup_cause: "BYE".into(),
        hangup_side: "caller".into(),
        codec: "PCMU".into(),
        legs: vec![CdrLeg { role: "a".into(), party: caller.into(), ..CdrLeg::default() }],
        did: String::new(),
        queue: String::new(),
    }
}

/// pbxd with the examples (globex gets an admin token), the API on a free port, and CDRs:
/// acme 101→102 (×3), 103→104, 102→101 (busy); globex 21→22; recordings of a1, a4 and g1
/// (files of [`AUDIO`]).
fn setup(dir: &std::path::Path) -> (Pbxd, String) {
    setup_with(dir, "")
}

/// Like `setup`, with `api_extra` added to the [api] table.
fn setup_with(dir: &std::path::Path, api_extra: &str) -> (Pbxd, String) {
    let port = common::sipp::free_port();
    let api = format!("127.0.0.1:{port}");
    let mut pbxd = Pbxd::configure(dir, "", "");
    let config = std::fs::read_to_string(&pbxd.config).unwrap()
        + &format!("\n[api]\nlisten = \"{api}\"\noperator_token_sha256 = \"{}\"\n{api_extra}\n", sha256(OPERATOR));
    std::fs::write(&pbxd.config, config).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("data/pbx.db").display());
        let store = Store::open(&url).await.unwrap();
        let day = 1_795_600_000_000;
        store
            .insert_cdrs(&[
                cdr("a1", "acme", "101", "102", day, "answered"),
                cdr("a2", "acme", "101", "102", day + 60_000, "answered"),
                cdr("a3", "acme", "101", "102", day + 120_000, "answered"),
                cdr("a4", "acme", "103", "104", day + 180_000, "answered"),
                cdr("a5", "acme", "102", "101", day + 3_700_000, "busy"),
                cdr("g1", "globex", "21", "22", day + 240_000, "answered"),
            ])
            .await
            .unwrap();
        for (cdr, tenant, caller, callee, start) in [
            ("a1", "acme", "101", "102", day),
            ("a4", "acme", "103", "104", day + 180_000),
            ("g1", "globex", "21", "22", day),
        ] {
            let path = format!("{tenant}/{cdr}-1.wav");
            std::fs::create_dir_all(dir.join("data/recordings").join(tenant)).unwrap();
            std::fs::write(dir.join("data/recordings").join(&path), AUDIO).unwrap();
            let recording = Recording {
                id: format!("{cdr}-1"),
                tenant: tenant.into(),
                cdr_id: cdr.into(),
                caller: caller.into(),
                callee: callee.into(),
                start_ms: start + 3_000,
                duration_ms: 60_000,
                bytes: AUDIO.len() as i64,
                path,
            };
            store.insert_recording(&recording).await.unwrap();
        }
        store.close().await;
    });
    pbxd.spawn();
    let tenants = copy_examples(dir);
    let globex = tenants.join("globex.toml");
    let text = std::fs::read_to_string(&globex).unwrap()
        + &format!(
            "\n[[api_user]]\nname = \"boss\"\nrole = \"tenant_admin\"\ntoken_sha256 = \"{}\"\n",
            sha256(GLOBEX_ADMIN)
        );
    std::fs::write(&globex, text).unwrap();
    let apply = pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    (pbxd, api)
}

fn ids(page: &Value) -> Vec<String> {
    page["cdrs"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn each_token_sees_exactly_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, api) = setup(dir.path());

    // No token, a wrong token: 401.
    assert_eq!(get(&api, "/api/v1/cdrs", None).status, 401);
    assert_eq!(get(&api, "/api/v1/cdrs", Some("guess")).status, 401);

    // The employee sees its own extension's calls only.
    assert_eq!(get(&api, "/api/v1/me", Some(ALICE)).json()["role"], "employee");
    let mine = get(&api, "/api/v1/cdrs", Some(ALICE));
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(ids(&mine.json()), ["a5", "a3", "a2", "a1"]);
    assert_eq!(get(&api, "/api/v1/cdrs?extension=102", Some(ALICE)).status, 403, "another extension");
    assert_eq!(get(&api, "/api/v1/cdrs/a4", Some(ALICE)).status, 403, "a call of 103 and 104");
    assert_eq!(get(&api, "/api/v1/cdrs/a1", Some(ALICE)).json()["callee"], "102");
    assert_eq!(get(&api, "/api/v1/cdrs/g1", Some(ALICE)).status, 404, "another tenant's call does not exist for it");
    assert_eq!(get(&api, "/metrics", Some(ALICE)).status, 403);

    // The tenant admin sees the tenant, never another.
    assert_eq!(ids(&get(&api, "/api/v1/cdrs", Some(ACME_ADMIN)).json()), ["a5", "a4", "a3", "a2", "a1"]);
    assert_eq!(get(&api, "/api/v1/cdrs?tenant=globex", Some(ACME_ADMIN)).status, 403);
    assert_eq!(get(&api, "/api/v1/cdrs/g1", Some(ACME_ADMIN)).status, 404);
    assert_eq!(get(&api, "/api/v1/calls?tenant=globex", Some(ACME_ADMIN)).status, 403);
    assert_eq!(ids(&get(&api, "/api/v1/cdrs", Some(GLOBEX_ADMIN)).json()), ["g1"]);
    assert_eq!(get(&api, "/api/v1/registrations", Some(GLOBEX_ADMIN)).json(), serde_json::json!([]));

    // Trunks: the tenant admin sees its own (the example's carrier, on a reserved name: down).
    wait_for("the trunks", Duration::from_secs(5), || get(&api, "/api/v1/trunks", Some(ACME_ADMIN)).body != "[]");
    let trunks = get(&api, "/api/v1/trunks", Some(ACME_ADMIN)).json();
    assert_eq!(trunks[0]["name"], "carrier", "{trunks}");
    assert_eq!(trunks[0]["state"], "down", "{trunks}");
    assert_eq!(get(&api, "/api/v1/trunks", Some(GLOBEX_ADMIN)).json(), serde_json::json!([]));
    assert_eq!(get(&api, "/api/v1/trunks", Some(ALICE)).status, 403);

    // The operator sees every tenant, or one.
    assert_eq!(get(&api, "/api/v1/cdrs", Some(OPERATOR)).json()["cdrs"].as_array().unwrap().len(), 6);
    assert_eq!(ids(&get(&api, "/api/v1/cdrs?tenant=globex", Some(OPERATOR)).json()), ["g1"]);
    let metrics = get(&api, "/metrics", Some(OPERATOR));
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("# TYPE pbx_calls_ended_total counter"), "{}", metrics.body);
    assert!(metrics.body.contains("pbx_relay_port_pairs_free "), "{}", metrics.body);
}

#[test]
fn cdrs_page_filter_export_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, api) = setup(dir.path());

    let first = get(&api, "/api/v1/cdrs?limit=2", Some(ACME_ADMIN)).json();
    assert_eq!(ids(&first), ["a5", "a4"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(&api, &format!("/api/v1/cdrs?limit=2&cursor={cursor}"), Some(ACME_ADMIN)).json();
    assert_eq!(ids(&second), ["a3", "a2"]);
    let last = get(
        &api,
        &format!("/api/v1/cdrs?limit=2&cursor={}", second["next_cursor"].as_str().unwrap()),
        Some(ACME_ADMIN),
    )
    .json();
    assert_eq!(ids(&last), ["a1"]);
    assert!(last.get("next_cursor").is_none(), "the last page says so");

    assert_eq!(ids(&get(&api, "/api/v1/cdrs?disposition=busy", Some(ACME_ADMIN)).json()), ["a5"]);
    assert_eq!(ids(&get(&api, "/api/v1/cdrs?extension=104", Some(ACME_ADMIN)).json()), ["a4"]);
    assert_eq!(ids(&get(&api, "/api/v1/cdrs?since=2026-11-25T10:00:00Z", Some(ACME_ADMIN)).json()), ["a5"]);
    assert_eq!(get(&api, "/api/v1/cdrs?since=yesterday", Some(ACME_ADMIN)).status, 400);
    assert_eq!(get(&api, "/api/v1/cdrs?limit=0", Some(ACME_ADMIN)).status, 400);
    assert_eq!(get(&api, "/api/v1/cdrs?cursor=zzz", Some(ACME_ADMIN)).status, 400);

    let csv = get(&api, "/api/v1/cdrs?format=csv", Some(ALICE));
    assert!(csv.headers.to_ascii_lowercase().contains("content-type: text/csv"), "{}", csv.headers);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(lines[0].starts_with("id,tenant,call_id,direction,caller,callee"));
    assert_eq!(lines.len(), 5, "header and alice's four calls");

    let hourly = get(&api, "/api/v1/reports/calls?per=hour", Some(ACME_ADMIN)).json();
    let rows = hourly.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{hourly}");
    // Hours and days of the tenant's zone (acme: Europe/Berlin, UTC+1 in November).
    assert_eq!(
        (rows[0]["key"].as_str(), rows[1]["key"].as_str()),
        (Some("2026-11-25T10:00:00+01:00"), Some("2026-11-25T11:00:00+01:00"))
    );
    let daily = get(&api, "/api/v1/reports/calls?per=day", Some(ACME_ADMIN)).json();
    assert_eq!(daily[0]["key"], "2026-11-25T00:00:00+01:00", "{daily}");
    assert_eq!(daily[0]["calls"], 5, "{daily}");
    assert_eq!((rows[0]["calls"].as_u64(), rows[0]["answered"].as_u64()), (Some(4), Some(4)));
    assert_eq!(rows[0]["average_wait_s"], 3.0);
    assert_eq!(rows[0]["average_talk_s"], 60.0);
    assert_eq!((rows[1]["calls"].as_u64(), rows[1]["missed"].as_u64()), (Some(1), Some(1)));
    let per_ext = get(&api, "/api/v1/reports/extensions", Some(ALICE)).json();
    assert_eq!(
        per_ext,
        serde_json::json!([{ "key": "101", "calls": 4, "answered": 3, "missed": 1, "average_wait_s": 3.0, "average_talk_s": 60.0 }])
    );
}

fn recording_ids(page: &Value) -> Vec<String> {
    page["recordings"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn recordings_are_scoped_and_served_with_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, api) = setup(dir.path());

    assert_eq!(get(&api, "/api/v1/recordings", None).status, 401);
    assert_eq!(recording_ids(&get(&api, "/api/v1/recordings", Some(ACME_ADMIN)).json()), ["a4-1", "a1-1"]);
    assert_eq!(recording_ids(&get(&api, "/api/v1/recordings?cdr=a1", Some(ACME_ADMIN)).json()), ["a1-1"]);
    let paged = get(&api, "/api/v1/recordings?limit=1", Some(ACME_ADMIN)).json();
    let next = paged["next_cursor"].as_str().unwrap();
    let rest = get(&api, &format!("/api/v1/recordings?limit=1&cursor={next}"), Some(ACME_ADMIN)).json();
    assert_eq!(recording_ids(&rest), ["a1-1"]);
    assert_eq!(recording_ids(&get(&api, "/api/v1/recordings", Some(GLOBEX_ADMIN)).json()), ["g1-1"]);

    // The employee (101) hears its own call, not 103's, and never another tenant's.
    assert_eq!(recording_ids(&get(&api, "/api/v1/recordings", Some(ALICE)).json()), ["a1-1"]);
    assert_eq!(get(&api, "/api/v1/recordings/a1-1", Some(ALICE)).json()["callee"], "102");
    assert_eq!(get(&api, "/api/v1/recordings/a4-1", Some(ALICE)).status, 403);
    assert_eq!(get(&api, "/api/v1/recordings/a4-1/audio", Some(ALICE)).status, 403);
    assert_eq!(get(&api, "/api/v1/recordings?extension=103", Some(ALICE)).status, 403);
    assert_eq!(get(&api, "/api/v1/recordings/g1-1/audio", Some(ALICE)).status, 404);
    assert_eq!(get(&api, "/api/v1/recordings/g1-1", Some(ACME_ADMIN)).status, 404);
    assert_eq!(get(&api, "/api/v1/recordings/a1-1/audio", Some(GLOBEX_ADMIN)).status, 404);
    let details = get(&api, "/api/v1/recordings/a1-1", Some(ALICE)).json();
    assert!(details.get("path").is_none(), "the file's place on disk is not shown: {details}");

    // Whole file, then byte ranges.
    let whole = get(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE));
    assert_eq!((whole.status, whole.body.as_str()), (200, AUDIO));
    let headers = whole.headers.to_ascii_lowercase();
    assert!(headers.contains("content-type: audio/wav") && headers.contains("accept-ranges: bytes"), "{headers}");
    let len = AUDIO.len();
    let part = get_with(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE), "Range: bytes=4-11\r\n");
    assert_eq!((part.status, part.body.as_str()), (206, &AUDIO[4..12]));
    assert!(part.headers.contains(&format!("content-range: bytes 4-11/{len}")), "{}", part.headers);
    let tail = get_with(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE), "Range: bytes=-6\r\n");
    assert_eq!((tail.status, tail.body.as_str()), (206, &AUDIO[len - 6..]));
    let open = get_with(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE), "Range: bytes=40-\r\n");
    assert_eq!((open.status, open.body.as_str()), (206, &AUDIO[40..]));
    let outside = get_with(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE), &format!("Range: bytes={len}-\r\n"));
    assert_eq!(outside.status, 416);
    assert!(outside.headers.contains(&format!("content-range: bytes */{len}")), "{}", outside.headers);
    let several = get_with(&api, "/api/v1/recordings/a1-1/audio", Some(ALICE), "Range: bytes=0-1,4-5\r\n");
    assert_eq!((several.status, several.body.as_str()), (200, AUDIO), "several ranges: the whole file");

    // A file removed behind pbxd's back is gone, not an error.
    std::fs::remove_file(dir.path().join("data/recordings/acme/a4-1.wav")).unwrap();
    assert_eq!(get(&api, "/api/v1/recordings/a4-1/audio", Some(ACME_ADMIN)).status, 410);
}

#[test]
fn the_openapi_document_is_served_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, api) = setup(dir.path());
    let served = get(&api, "/api/v1/openapi.json", None);
    assert_eq!(served.status, 200, "the document needs no token");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string("schemas/openapi.json").unwrap()).unwrap();
    assert_eq!(served.json(), committed, "schemas/openapi.json is out of date; run `pbxctl schema`");
    assert_eq!(committed["openapi"], "3.1.0");
}

#[test]
fn wrong_tokens_are_slowed_down_but_the_right_one_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_pbxd, api) = setup(dir.path());
    let statuses: Vec<u16> = (0..14).map(|i| get(&api, "/api/v1/me", Some(&format!("guess-{i}"))).status).collect();
    assert!(statuses[..10].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[11..].iter().all(|&s| s == 429), "{statuses:?}");
    assert_eq!(get(&api, "/api/v1/me", Some(ACME_ADMIN)).status, 200);
}

#[test]
fn the_event_stream_is_scoped_to_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (pbxd, api) = setup(dir.path());
    let listen = |token: &str| {
        let mut stream = TcpStream::connect(&api).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(stream, "GET /api/v1/events HTTP/1.1\r\nHost: pbx\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        reader
    };
    let mut acme = listen(ACME_ADMIN);
    let mut globex = listen(GLOBEX_ADMIN);
    std::thread::sleep(Duration::from_millis(200));

    // A new revision of acme: acme's admin hears of it.
    let tenants = dir.path().join("tenants");
    let path = tenants.join("acme.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace("max_calls = 30", "max_calls = 31");
    std::fs::write(&path, text).unwrap();
    assert!(pbxd.pbxctl(&["apply", "--yes", tenants.to_str().unwrap()]).status.success());
    let mut line = String::new();
    let event = loop {
        line.clear();
        acme.read_line(&mut line).unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            break serde_json::from_str::<Value>(data).unwrap();
        }
    };
    assert_eq!((event["type"].as_str(), event["tenant"].as_str()), (Some("config_applied"), Some("acme")));
    assert!(event["id"].as_u64().unwrap() > 0);

    // Globex's admin hears nothing of it (keep-alives at most).
    globex.get_mut().set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut seen = String::new();
    line.clear();
    while globex.read_line(&mut line).is_ok_and(|n| n > 0) {
        seen.push_str(&line);
        line.clear();
    }
    // (Its own tenant's events, such as the setup's apply arriving late, may show.)
    assert!(!seen.contains("\"tenant\":\"acme\""), "globex saw acme's events: {seen}");
    assert!(seen.lines().filter(|l| l.starts_with("data: ")).all(|l| l.contains("\"tenant\":\"globex\"")), "{seen}");
}

/// schemathesis (from PyPI) generates requests from schemas/openapi.json: no answer may be a
/// 5xx or break the document. The event stream is left out (it never ends).
#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_schema() {
    if !have_tool("schemathesis", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Many of the generated requests carry wrong tokens on purpose: let them all be answered 401.
    let (_pbxd, api) = setup_with(dir.path(), "failed_tokens_burst = 1000000");
    // A range past the end of the file is schema-valid and rightly answered 416 (RFC 9110).
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        "[[operations]]\ninclude-path = \"/api/v1/recordings/{id}/audio\"\n\
         checks.positive_data_acceptance.expected-statuses = [\"2XX\", \"401\", \"403\", \"404\", \"410\", \"416\", \"429\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new("schemathesis")
        .current_dir(dir.path())
        .args(["run", concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.json")])
        .args(["--url", &format!("http://{api}")])
        .args(["-H", &format!("Authorization: Bearer {OPERATOR}")])
        .args(["--checks", "all", "--max-examples", "40", "--seed", "4242", "--exclude-path", "/api/v1/events"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("passed"), "{report}");
}
