//! `minimis bench ingest` runs end to end and reports every figure BENCHMARKS.md quotes.
//! The structure is checked, never a timing.

use serde_json::Value;

fn bench(extra: &[&str]) -> std::process::Output {
    let out = crate::minimis()
        .args([
            "bench",
            "ingest",
            "--checkins",
            "24",
            "--runs",
            "1",
            "--clients",
            "4",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn bench_ingest_reports_rate_latency_rss_bytes_and_the_privacy_ratio() {
    let out = bench(&["--json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["checkins"], 24);
    assert_eq!(r["participants"], 24);
    assert_eq!(r["runs"], 1);
    assert!(r["time_ratio"].as_f64().unwrap() > 0.0);
    assert!(r["server"].as_str().unwrap().contains("VmHWM"));
    for field in ["enroll_seconds", "challenges_seconds", "seal_seconds"] {
        assert!(r["setup"][field].as_f64().is_some(), "setup.{field}");
    }
    assert!(r["setup"]["snapshot_bytes"].as_u64().unwrap() > 0);
    for mode in ["minimis", "baseline"] {
        let m = &r[mode];
        for field in [
            "checkins_per_second",
            "seconds",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "bytes_per_checkin",
            "written_bytes_per_checkin",
            "server_cpu_us_per_checkin",
            "generator_cpu_us_per_checkin",
            "idle_percent",
        ] {
            let v = m[field].as_f64();
            assert!(
                v.is_some_and(|v| v >= 0.0),
                "{mode}.{field} = {:?}",
                m[field]
            );
        }
        assert!(m["checkins_per_second"].as_f64().unwrap() > 0.0);
        assert!(
            m["peak_rss_bytes"].as_u64().unwrap() > 0,
            "{mode}: peak RSS"
        );
        assert!(
            m["bytes_per_checkin"].as_f64().unwrap() > 0.0,
            "{mode}: stored"
        );
        let (p50, p99) = (m["p50_ms"].as_f64(), m["p99_ms"].as_f64());
        assert!(p50 <= p99, "{mode}: percentiles are ordered");
        assert_eq!(m["runs"].as_array().unwrap().len(), 1);
    }
    // A sealed check-in takes more room than the same payload in the clear.
    assert!(
        r["minimis"]["bytes_per_checkin"].as_f64() > r["baseline"]["bytes_per_checkin"].as_f64()
    );

    // The human report names every figure.
    let out = bench(&[]);
    let text = String::from_utf8(out.stdout).unwrap();
    for label in [
        "check-ins/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "peak RSS",
        "bytes/check-in",
        "plaintext baseline",
        "cost of privacy:",
        "server CPU",
    ] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plaintext_baseline_stores_in_the_clear_only_in_its_own_mode() {
    use base64::Engine as _;
    use minimis_server::IngestMode;
    use minimis_testkit::https::StatusCode;

    let count = |path: &std::path::Path, sql: &str| -> i64 {
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    let tables = "SELECT count(*) FROM sqlite_master WHERE name = 'plaintext_baseline_checkins'";

    // A minimis server has no plaintext table, and refuses a plaintext check-in.
    let h = crate::server::Harness::start().await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let payload = minimis_testkit::payload(ch.id, minimis_proto::ZoneResult::Inside, "");
    let clear = serde_json::to_vec(&serde_json::json!({
        "pseudonym": p.pseudonym,
        "challenge_id": ch.id,
        "payload": base64::engine::general_purpose::STANDARD.encode(payload.encode().expose()),
    }))
    .unwrap();
    let r = c.post("/v1/checkins", clear).await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let db = h.dir.path().join("data/minimis.sqlite3");
    assert_eq!(count(&db, tables), 0);

    // The comparator stores the payload in the clear, sets the ledger row, logs nothing.
    let h = crate::server::Harness::start_with(true, |c| {
        c.ingest_mode = IngestMode::DangerousPlaintextBaseline;
    })
    .await;
    let mut officer = h.officer_client().await;
    let p = h.enroll(&mut officer).await;
    h.running.tick().await.unwrap();
    let mut c = h.client().await;
    let ch = h.challenges(&mut c, &p).await.remove(0).challenge;
    let payload =
        minimis_testkit::payload(ch.id, minimis_proto::ZoneResult::Inside, "in the clear");
    let clear = serde_json::to_vec(&serde_json::json!({
        "pseudonym": p.pseudonym,
        "challenge_id": ch.id,
        "payload": base64::engine::general_purpose::STANDARD.encode(payload.encode().expose()),
    }))
    .unwrap();
    let log_before = c.get("/v1/log/checkpoint").await.unwrap().body;
    let r = c.post("/v1/checkins", clear.clone()).await.unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    assert_eq!(r.json()["state"]["state"], "on-time");
    let r = c.post("/v1/checkins", clear).await.unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "challenge_already_answered")
    );
    let db = h.dir.path().join("data/minimis.sqlite3");
    assert_eq!(
        count(&db, "SELECT count(*) FROM plaintext_baseline_checkins"),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM records"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM ledger WHERE state = 1"), 1);
    let stored: Vec<u8> = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT payload FROM plaintext_baseline_checkins", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        stored.windows(12).any(|w| w == b"in the clear"),
        "the comparator is readable by the operator, as a conventional vendor's store is"
    );
    assert_eq!(
        c.get("/v1/log/checkpoint").await.unwrap().body,
        log_before,
        "nothing is logged"
    );
}
