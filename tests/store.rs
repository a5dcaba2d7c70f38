//! The revision store against real SQLite, MariaDB and PostgreSQL.
//!
//! MariaDB and PostgreSQL come from PBX_TEST_MYSQL_URL and PBX_TEST_POSTGRES_URL (set by
//! tests/setup-services.sh). Each test makes a database of its own and drops it after.
//! Without the variables these tests say so and pass, unless PBX_TEST_REQUIRE_DATABASES=1
//! (the README's test command sets it), where a missing server is a failure.

use std::collections::BTreeMap;

use pbx::store::{
    Backend, Cdr, CdrLeg, CdrQuery, DesiredState, Recording, RecordingQuery, RegistrationWrite, Store, StoreError,
    StoredRegistration, TenantDoc,
};
use sqlx::Executor;

fn state(texts: &[(&str, &str)]) -> DesiredState {
    DesiredState {
        tenants: texts
            .iter()
            .map(|(id, text)| {
                (id.to_string(), TenantDoc { file: format!("tenants/{id}.toml"), text: text.to_string() })
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn exercise(url: &str, backend: Backend) {
    let store = Store::open(url).await.unwrap();
    assert_eq!(store.backend(), backend);
    assert!(store.head().await.unwrap().is_none(), "a new store has no revision");

    let first = state(&[("acme", "[tenant]\nname = \"Acme – Ünïcode ☎\"\n")]);
    let rev1 = store.append(None, "alice", "first", &first).await.unwrap();
    assert_eq!(rev1.number, 1);
    let (head, content) = store.head().await.unwrap().unwrap();
    assert_eq!(head, rev1);
    assert_eq!(content, first);

    // A large tenant (about 2 MB) survives the round trip on every backend.
    let big_text = "# padding line for a large tenant file\n".repeat(50_000);
    let second = state(&[("acme", "[tenant]\n"), ("big", &big_text)]);
    let rev2 = store.append(Some(1), "bob", "second", &second).await.unwrap();
    assert_eq!(rev2.number, 2);

    // Two applies based on the same revision: the second is refused, nothing is mixed.
    match store.append(Some(1), "carol", "late", &first).await {
        Err(StoreError::Conflict { expected: 1, actual: 2 }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    let numbers: Vec<i64> = store.history(10).await.unwrap().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(store.revision(1).await.unwrap().1, first);
    assert_eq!(store.revision(2).await.unwrap().1, second);
    assert!(matches!(store.revision(99).await, Err(StoreError::NoSuchRevision(99))));

    // Registrations: batched upserts and removals, expired rows dropped on load.
    let reg = |contact: &str, expires_at: i64| StoredRegistration {
        tenant: "acme".into(),
        aor: "101".into(),
        contact: contact.into(),
        q_millis: 1000,
        expires_at,
        call_id: "c1@phone".into(),
        cseq: 7,
        source: "192.0.2.7:5060".into(),
        transport: "udp".into(),
        flow: 0,
        user_agent: "Phone – ünïcode".into(),
        registered_at: 1_000,
    };
    let batch = [
        RegistrationWrite::Upsert(reg("sip:101@192.0.2.7:5060", 5_000)),
        RegistrationWrite::Upsert(reg("sip:101@192.0.2.8:5060", 1_500)),
        RegistrationWrite::Upsert(reg("sip:101@192.0.2.9:5060", 5_000)),
        RegistrationWrite::Upsert(StoredRegistration { cseq: 8, ..reg("sip:101@192.0.2.7:5060", 6_000) }),
        RegistrationWrite::Remove {
            tenant: "acme".into(),
            aor: "101".into(),
            contact: "sip:101@192.0.2.9:5060".into(),
        },
    ];
    store.write_registrations(&batch).await.unwrap();
    let loaded = store.load_registrations(2_000).await.unwrap();
    assert_eq!(loaded, [StoredRegistration { cseq: 8, ..reg("sip:101@192.0.2.7:5060", 6_000) }]);

    // CDRs with their legs, newest first, filtered by tenant and time.
    let cdr = |id: &str, tenant: &str, start_ms: i64| Cdr {
        id: id.into(),
        tenant: tenant.into(),
        call_id: format!("{id}@phone"),
        direction: "internal".into(),
        caller: "101".into(),
        callee: "102".into(),
        start_ms,
        answer_ms: start_ms + 2_000,
        end_ms: start_ms + 62_000,
        billsec: 60,
        disposition: "answered".into(),
        hangup_cause: "BYE".into(),
        hangup_side: "callee".into(),
        codec: "PCMU".into(),
        legs: vec![
            CdrLeg { role: "a".into(), party: "101".into(), packets_in: 3000, jitter_ms: 1.5, ..CdrLeg::default() },
            CdrLeg { role: "b".into(), party: "102".into(), lost: 2, ..CdrLeg::default() },
        ],
        did: String::new(),
        queue: String::new(),
    };
    let calls = [cdr("c1", "acme", 1_000), cdr("c2", "acme", 5_000), cdr("c3", "globex", 6_000)];
    store.insert_cdrs(&calls).await.unwrap();
    let acme = store.cdrs(&CdrQuery { tenant: Some("acme".into()), limit: 10, ..CdrQuery::default() }).await.unwrap();
    assert_eq!(acme, [calls[1].clone(), calls[0].clone()]);
    let recent = store.cdrs(&CdrQuery { since_ms: Some(4_000), limit: 1, ..CdrQuery::default() }).await.unwrap();
    assert_eq!(recent, [calls[2].clone()]);
    assert_eq!(store.cdr("c2").await.unwrap(), Some(calls[1].clone()));
    assert_eq!(store.cdr("nope").await.unwrap(), None);
    cdr_filters_and_pages(&store).await;
    recordings(&store).await;
    store.close().await;

    // Reopening runs the migrations again (a no-op) and finds the same head.
    let store = Store::open(url).await.unwrap();
    let (head, content) = store.head().await.unwrap().unwrap();
    assert_eq!((head.number, head.author.as_str(), head.comment.as_str()), (2, "bob", "second"));
    assert_eq!(content, second);
    store.close().await;
}

/// Recordings: scoped, paged newest first, and the quota picks the oldest of the tenant.
async fn recordings(store: &Store) {
    let rec = |id: &str, tenant: &str, caller: &str, start_ms: i64, bytes: i64| Recording {
        id: id.into(),
        tenant: tenant.into(),
        cdr_id: format!("cdr-{id}"),
        caller: caller.into(),
        callee: "102".into(),
        start_ms,
        duration_ms: 1_000,
        bytes,
        path: format!("{tenant}/2026/11/26/{id}.wav"),
    };
    let all = [
        rec("r1", "acme", "101", 1_000, 400),
        rec("r2", "acme", "103", 2_000, 300),
        rec("r3", "acme", "101", 3_000, 200),
        rec("r4", "globex", "21", 500, 900),
    ];
    for r in &all {
        store.insert_recording(r).await.unwrap();
    }
    let q = |tenant: &str| RecordingQuery { tenant: Some(tenant.into()), limit: 10, ..RecordingQuery::default() };
    let acme = store.recordings(&q("acme")).await.unwrap();
    assert_eq!(acme, [all[2].clone(), all[1].clone(), all[0].clone()]);
    let of_101 = store.recordings(&RecordingQuery { extension: Some("101".into()), ..q("acme") }).await.unwrap();
    assert_eq!(of_101, [all[2].clone(), all[0].clone()]);
    let page2 =
        store.recordings(&RecordingQuery { before: Some((3_000, "r3".into())), limit: 1, ..q("acme") }).await.unwrap();
    assert_eq!(page2, [all[1].clone()]);
    let by_cdr = store.recordings(&RecordingQuery { cdr_id: Some("cdr-r2".into()), ..q("acme") }).await.unwrap();
    assert_eq!(by_cdr, [all[1].clone()]);
    assert_eq!(store.recording("r4").await.unwrap(), Some(all[3].clone()));

    // 900 bytes in acme: a 600-byte quota drops the oldest (r1); 150 bytes drops all three.
    assert!(store.recordings_over_quota("acme", 900).await.unwrap().is_empty());
    let over = store.recordings_over_quota("acme", 600).await.unwrap();
    assert_eq!(over, [all[0].clone()]);
    assert_eq!(store.recordings_over_quota("acme", 150).await.unwrap().len(), 3);
    store.delete_recording("r1").await.unwrap();
    assert_eq!(store.recording("r1").await.unwrap(), None);
    assert_eq!(store.recordings(&q("globex")).await.unwrap(), [all[3].clone()]);
}

/// 100,000 generated CDRs: filtered queries paged with the keyset cursor return exactly the
/// matching calls, newest first, none twice (three calls share each start time).
async fn cdr_filters_and_pages(store: &Store) {
    const N: usize = 100_000;
    let pick = |i: usize, options: &[&str]| options[i % options.len()].to_owned();
    let generated: Vec<Cdr> = (0..N)
        .map(|i| Cdr {
            id: format!("g{i:06}"),
            tenant: if i % 10 == 0 { "globex".into() } else { "acme".into() },
            call_id: format!("{i}@gen"),
            direction: pick(i, &["internal", "inbound", "outbound"]),
            caller: format!("1{:02}", i % 50),
            callee: format!("2{:02}", i % 37),
            start_ms: 10_000_000 + (i / 3) as i64 * 1000,
            answer_ms: 0,
            end_ms: 10_000_000 + (i / 3) as i64 * 1000 + 5000,
            billsec: 0,
            disposition: pick(i, &["answered", "busy", "no_answer", "cancelled"]),
            hangup_cause: "BYE".into(),
            hangup_side: "caller".into(),
            codec: "PCMA".into(),
            legs: Vec::new(),
            did: if i % 5 == 0 { "+4930123456".into() } else { String::new() },
            queue: if i % 7 == 0 { "support".into() } else { String::new() },
        })
        .collect();
    for chunk in generated.chunks(5_000) {
        store.insert_cdrs(chunk).await.unwrap();
    }
    let queries = [
        CdrQuery {
            tenant: Some("acme".into()),
            disposition: Some("busy".into()),
            extension: Some("105".into()),
            since_ms: Some(10_000_000 + 2_000_000),
            until_ms: Some(10_000_000 + 30_000_000),
            limit: 7,
            ..CdrQuery::default()
        },
        CdrQuery {
            tenant: Some("acme".into()),
            did: Some("+4930123456".into()),
            queue: Some("support".into()),
            direction: Some("inbound".into()),
            limit: 100,
            ..CdrQuery::default()
        },
        CdrQuery { number: Some("236".into()), limit: 999, ..CdrQuery::default() },
    ];
    for query in queries {
        let matches = |c: &&Cdr| {
            let eq = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
            let party = |want: &Option<String>| want.as_deref().is_none_or(|w| w == c.caller || w == c.callee);
            eq(&query.tenant, &c.tenant)
                && eq(&query.direction, &c.direction)
                && eq(&query.disposition, &c.disposition)
                && eq(&query.did, &c.did)
                && eq(&query.queue, &c.queue)
                && party(&query.extension)
                && party(&query.number)
                && query.since_ms.is_none_or(|t| c.start_ms >= t)
                && query.until_ms.is_none_or(|t| c.start_ms < t)
        };
        let mut expected: Vec<&str> = generated.iter().filter(matches).map(|c| c.id.as_str()).collect();
        expected.sort_by(|a, b| b.cmp(a)); // ids grow with start time: newest first
        assert!(expected.len() > 2 * query.limit as usize, "the query spans several pages");
        let mut got = Vec::new();
        let mut page_query = query.clone();
        loop {
            let page = store.cdrs(&page_query).await.unwrap();
            assert!(page.len() <= query.limit as usize);
            got.extend(page.iter().map(|c| c.id.clone()));
            match page.last() {
                Some(last) if page.len() == query.limit as usize => {
                    page_query.before = Some((last.start_ms, last.id.clone()));
                }
                _ => break,
            }
        }
        assert_eq!(got, expected, "{query:?}");
    }
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pbx.db").display());
    exercise(&url, Backend::Sqlite).await;
}

/// The server URL from the environment, or None when these tests may be skipped.
fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("PBX_TEST_REQUIRE_DATABASES").as_deref() == Ok("1") => {
            panic!("{var} is not set; run tests/setup-services.sh")
        }
        Err(_) => {
            eprintln!("skipped: {var} is not set (tests/setup-services.sh sets it)");
            None
        }
    }
}

/// Creates a database of its own on the server, runs `test` on it, drops it.
async fn with_fresh_database(base_url: &str, backend: Backend) {
    sqlx::any::install_default_drivers();
    let name = format!(
        "pbx_t{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000
    );
    let admin = sqlx::AnyPool::connect(base_url).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let (prefix, _) = base_url.rsplit_once('/').unwrap();
    exercise(&format!("{prefix}/{name}"), backend).await;
    admin.execute(format!("DROP DATABASE {name}").as_str()).await.unwrap();
    admin.close().await;
}

#[tokio::test]
async fn mariadb_store() {
    if let Some(url) = server_url("PBX_TEST_MYSQL_URL") {
        with_fresh_database(&url, Backend::Mysql).await;
    }
}

#[tokio::test]
async fn postgres_store() {
    if let Some(url) = server_url("PBX_TEST_POSTGRES_URL") {
        with_fresh_database(&url, Backend::Postgres).await;
    }
}
