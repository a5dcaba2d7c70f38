//! The reconciler in-process: the server validates on its own, swaps snapshots atomically,
//! leaves running calls their snapshot, and emits events.

use pbx::reconcile::{ApplyError, ApplyRequest, ConfigEvent, Reconciler};
use pbx::store::{Store, TenantDoc};

const TENANT: &str = "[tenant]\nname = \"T\"\ndomains = [\"t.example\"]\ntimezone = \"UTC\"\nextension_digits = 3\n\n[[extension]]\nnumber = \"101\"\nname = \"A\"\nsecret = \"env:A\"\n\n[[extension]]\nnumber = \"102\"\nname = \"B\"\nsecret = \"env:B\"\n\n[[queue]]\nname = \"sales\"\nmembers = [\"101\"]\n";

fn request(text: &str) -> ApplyRequest {
    ApplyRequest {
        tenants: [("t".to_owned(), TenantDoc { file: "t.toml".to_owned(), text: text.to_owned() })].into(),
        author: "test".to_owned(),
        ..Default::default()
    }
}

async fn reconciler(dir: &std::path::Path) -> std::sync::Arc<Reconciler> {
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.join("pbx.db").display())).await.unwrap();
    Reconciler::start(store).await.unwrap()
}

#[tokio::test]
async fn server_side_validation_refuses_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let r = reconciler(dir.path()).await;
    r.apply(&request(TENANT)).await.unwrap();
    let before = r.snapshot();
    let broken = TENANT.replace("members = [\"101\"]", "members = [\"109\"]");
    match r.apply(&request(&broken)).await {
        Err(ApplyError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1);
            assert_eq!((problems[0].file.as_str(), problems[0].line), ("t.toml", 19));
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(std::sync::Arc::ptr_eq(&before, &r.snapshot()), "the running snapshot is untouched");
    assert_eq!(r.store().history(10).await.unwrap().len(), 1, "no revision was stored");
}

#[tokio::test]
async fn calls_keep_their_snapshot_and_events_name_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let r = reconciler(dir.path()).await;
    r.apply(&request(TENANT)).await.unwrap();
    let held_by_a_call = r.snapshot();
    let mut events = r.subscribe_events();

    let changed =
        TENANT.replace("members = [\"101\"]", "members = [\"101\", \"102\"]").replace("name = \"B\"", "name = \"Bea\"");
    let outcome = r.apply(&request(&changed)).await.unwrap();
    assert_eq!(outcome.revision.unwrap().number, 2);
    assert_eq!(held_by_a_call.tenants["t"].model.queues[0].members.len(), 1, "a running call still sees its revision");
    assert_eq!(r.snapshot().tenants["t"].model.queues[0].members.len(), 2);

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let key =
        |kind: &str, key: &str| ConfigEvent::ObjectChanged { tenant: "t".into(), kind: kind.into(), key: key.into() };
    assert_eq!(
        seen,
        [
            key("extension", "102"),
            key("queue", "sales"),
            ConfigEvent::TenantApplied { tenant: "t".into(), revision: 2 }
        ]
    );
}

#[tokio::test]
async fn an_apply_based_on_an_old_revision_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = reconciler(dir.path()).await;
    r.apply(&request(TENANT)).await.unwrap();
    let stale = ApplyRequest { based_on: Some(0), ..request(&TENANT.replace("\"A\"", "\"Anna\"")) };
    assert!(matches!(r.apply(&stale).await, Err(ApplyError::Stale { expected: 0, actual: 1 })));
    // Restart: the stored revision comes back.
    drop(r);
    let r = reconciler(dir.path()).await;
    assert_eq!(r.snapshot().revision_number(), Some(1));
    assert_eq!(r.snapshot().domains["t.example"], "t");
}
