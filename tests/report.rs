//! `minimis audit report DIR --html FILE` as a user runs it (spec/audit.md, AUD-27 to
//! AUD-29): one self-contained HTML file with every check, the log's facts, four charts
//! and the SmartLINK inventory held against minimis; and the same file in a real browser
//! (ignored on a bare machine: needs Debian's `chromium`; `.ci/run` installs it and runs
//! the ignored tests).

use std::path::{Path, PathBuf};
use std::process::Output;

use minimis_audit::layout::write_export;
use minimis_audit::series::{
    CategoryRow, DEMO_SERIES_FILE, DEMO_SERIES_FORMAT, DemoSeries, HeldSample,
};
use minimis_audit::synthetic::{self, History, Params, SignedLog};
use minimis_log::LogEntry;
use minimis_proto::EpochId;
use serde_json::Value;

fn history() -> History {
    History::generate(&Params {
        participants: 12,
        epochs: 16,
        ..Params::small()
    })
}

fn export(dir: &Path, entries: &[LogEntry]) {
    let log = SignedLog::build(entries, 500);
    write_export(
        dir,
        &log.log,
        std::slice::from_ref(&log.witness_key),
        minimis_proto::DEFAULT_POLICY_TOML,
    )
    .unwrap();
}

/// Bytes of one sealed check-in, as the demo reports them on average.
const SEALED: u64 = 1_100;

/// A demo series consistent with `h`: daily samples of what the operator held, with each
/// epoch's content cut off at its deadline. `categories` may carry hostile text.
fn series(h: &History, category: &str, basis: &str) -> DemoSeries {
    let p = &h.policy;
    let mut epochs: Vec<u32> = h
        .entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::CheckInReceived { epoch, .. } => Some(epoch.get()),
            _ => None,
        })
        .collect();
    epochs.dedup();
    let first = epochs.first().copied().unwrap();
    let start = p.epoch_start(EpochId::new(first)).seconds();
    let per_epoch = |e: u32| {
        h.entries
            .iter()
            .filter(|x| matches!(x, LogEntry::CheckInReceived { epoch, .. } if epoch.get() == e))
            .count() as u64
    };
    let people = 12u64;
    let mut samples = Vec::new();
    let mut at = start;
    while at <= h.now.seconds() {
        let mut held = 0;
        let mut ledger = 0;
        let mut live = 0;
        for &e in &epochs {
            let epoch = EpochId::new(e);
            let (s, end) = (p.epoch_start(epoch).seconds(), p.epoch_end(epoch).seconds());
            if at < s {
                continue;
            }
            let share = ((at - s) as f64 / (end - s) as f64).min(1.0);
            let n = (per_epoch(e) as f64 * share) as u64;
            ledger += n * 40;
            if at < p.content_deadline(epoch).seconds() {
                held += n * SEALED;
                live += 2;
            }
        }
        samples.push(HeldSample {
            at,
            operator_ciphertext_bytes: held,
            operator_ledger_bytes: ledger,
            log_bytes: ledger * 3,
            readable_bytes: held,
            custodian_live_keys: live,
        });
        at += 86_400;
    }
    let check_ins: u64 = epochs.iter().map(|&e| per_epoch(e)).sum();
    let held_now = samples.last().map_or(0, |s| s.operator_ciphertext_bytes);
    DemoSeries {
        format: DEMO_SERIES_FORMAT.to_owned(),
        participants: people,
        samples,
        categories: vec![
            CategoryRow {
                category: "check-in content".to_owned(),
                minimis_bytes: held_now,
                smartlink_bytes: check_ins * 200,
                smartlink_basis: "every check-in's record kept for 7 years or more (DHS PIA-062, secondary; CyberScoop); 200 bytes each, an estimate".to_owned(),
                estimate: true,
            },
            CategoryRow {
                category: "face images".to_owned(),
                minimis_bytes: 0,
                smartlink_bytes: check_ins * 150_000,
                smartlink_basis: "a selfie at each check-in (GAO WatchBlog, 2022); ~150 kB each, an estimate".to_owned(),
                estimate: true,
            },
            CategoryRow {
                category: "precise locations".to_owned(),
                minimis_bytes: 0,
                smartlink_bytes: check_ins * 16,
                smartlink_basis: "a location with each check-in (CyberScoop); 16 bytes each".to_owned(),
                estimate: false,
            },
            CategoryRow {
                category: category.to_owned(),
                minimis_bytes: 0,
                smartlink_bytes: people * 5 * 60,
                smartlink_basis: basis.to_owned(),
                estimate: true,
            },
        ],
    }
}

fn write_series(dir: &Path, s: &DemoSeries) {
    std::fs::write(
        dir.join(DEMO_SERIES_FILE),
        serde_json::to_string_pretty(s).unwrap(),
    )
    .unwrap();
}

fn report(dir: &Path, html: &Path, h: &History, extra: &[&str]) -> Output {
    crate::minimis()
        .args(["audit", "report"])
        .arg(dir)
        .arg("--html")
        .arg(html)
        .args(["--now", &h.now.seconds().to_string(), "--trust-keys-in-dir"])
        .args(extra)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every external URL the document would load: a `src`, `href`, `srcset` or
/// `xlink:href` attribute inside a tag, or a `url(...)` or `@import` inside a style
/// sheet, that points to another host (`http:`, `https:`, `//`, `ftp:`). Text between
/// tags is not looked at: an escaped string there loads nothing.
fn external_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut scan = |region: &str, keys: &[&str]| {
        for key in keys {
            let mut from = 0;
            while let Some(i) = region[from..].find(key) {
                let at = from + i + key.len();
                let rest = region[at..].trim_start_matches(['"', '\'', ' ']);
                if *key == "@import"
                    || ["http:", "https:", "//", "ftp:"]
                        .iter()
                        .any(|p| rest.starts_with(p))
                {
                    found.push(rest.chars().take(60).collect::<String>());
                }
                from = at;
            }
        }
    };
    // Tags.
    let mut from = 0;
    while let Some(i) = lower[from..].find('<') {
        let open = from + i;
        let Some(len) = lower[open..].find('>') else {
            break;
        };
        let tag = &lower[open..open + len];
        if tag[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            scan(tag, &["src=", "href=", "srcset="]);
        }
        from = open + len;
    }
    // Style sheets, and style attributes (inside tags, scanned whole).
    let mut from = 0;
    while let Some(i) = lower[from..].find("<style") {
        let open = from + i;
        let close = lower[open..]
            .find("</style>")
            .map_or(lower.len(), |j| open + j);
        scan(&lower[open..close], &["url(", "@import"]);
        from = close;
    }
    let mut from = 0;
    while let Some(i) = lower[from..].find('<') {
        let open = from + i;
        let Some(len) = lower[open..].find('>') else {
            break;
        };
        let tag = &lower[open..open + len];
        if tag.contains("style=") {
            scan(tag, &["url("]);
        }
        from = open + len;
    }
    found
}

/// The synthetic history exported with its demo series: the report's usual input.
fn full_export(dir: &Path) -> History {
    let h = history();
    export(dir, &h.entries);
    write_series(
        dir,
        &series(
            &h,
            "contacts (five references)",
            "reportedly five references (Biometric Update, 2021, secondary); 60 bytes each, an estimate",
        ),
    );
    h
}

#[test]
fn aud_27_the_report_is_one_self_contained_file() {
    let dir = tempfile::tempdir().unwrap();
    let h = full_export(dir.path());
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("every claim holds"), "{}", text(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<html lang=\"en\">"));
    assert_eq!(external_references(&html), Vec::<String>::new());
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.to_ascii_lowercase().contains("<link"));
    assert!(!html.to_ascii_lowercase().contains("<img"));
    assert!(!html.to_ascii_lowercase().contains("<iframe"));
    // The four charts, inline, each with its accessible title.
    assert_eq!(html.matches("<svg role=\"img\"").count(), 4);
    for id in [
        "chart-categories",
        "chart-held",
        "chart-accesses",
        "chart-challenges",
    ] {
        assert!(html.contains(&format!("<title id=\"{id}-title\">")), "{id}");
    }
}

#[test]
fn aud_27_the_scanner_finds_external_references() {
    // The check above must be able to fail.
    let bad = "<img src=\"https://cdn.example/x.png\"><link href='http://x/y.css'><style>@import 'a.css'; b { background: url(//x/y) }</style>";
    assert_eq!(
        external_references(bad).len(),
        4,
        "{:?}",
        external_references(bad)
    );
    assert_eq!(
        external_references("<p style=\"background: url('https://x/y.png')\">").len(),
        1
    );
    assert!(
        external_references("<svg xmlns=\"http://www.w3.org/2000/svg\"><a href=\"#x\">").is_empty()
    );
    // Escaped text is not a reference.
    assert!(external_references("<p>&lt;img src=https://x/y.png&gt;</p>").is_empty());
}

#[test]
fn aud_28_the_report_shows_every_check_and_the_log_facts() {
    let dir = tempfile::tempdir().unwrap();
    let h = full_export(dir.path());
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    // What `minimis audit --json` says of the same export.
    let out = crate::minimis()
        .arg("audit")
        .arg(dir.path())
        .args([
            "--now",
            &h.now.seconds().to_string(),
            "--json",
            "--trust-keys-in-dir",
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    for check in j["checks"].as_array().unwrap() {
        let name = check["check"].as_str().unwrap();
        assert!(html.contains(name), "{name}");
        for r in check["requirements"].as_array().unwrap() {
            assert!(html.contains(r.as_str().unwrap()), "{r}");
        }
    }
    assert!(html.contains(&format!(
        "<td>{}</td>",
        j["log"]["tree_size"].as_u64().unwrap()
    )));
    assert!(html.contains(j["log"]["root_hash"].as_str().unwrap()));
    assert!(html.contains(synthetic::WITNESS_NAME));
    assert!(html.contains(j["policies"][0]["hash"].as_str().unwrap()));
    // AUD-34: which keys vouched for the checkpoint, and where they came from.
    let key = |k: &Value| {
        let key = k["key"].as_str().unwrap();
        let mut parts = key.split('+');
        format!(
            "<code>{}+{}</code>",
            parts.next().unwrap(),
            parts.next().unwrap()
        )
    };
    for k in std::iter::once(&j["keys"]["log"]).chain(j["keys"]["witnesses"].as_array().unwrap()) {
        assert!(html.contains(&key(k)), "{k}");
    }
    assert!(
        html.contains(&format!(
            "from {}, in the directory audited (--trust-keys-in-dir)",
            dir.path().join("log.vkey").display()
        )),
        "the log key's origin"
    );
    assert!(html.contains("Every claim checked holds."));
    assert!(html.contains("What this proves, and what it does not"));
    // The SmartLINK inventory, compared, with the requirements it fails.
    assert!(html.contains("BI SmartLINK (ICE ISAP) held against the legal minimum and minimis"));
    assert!(html.contains("POL-4") && html.contains("SEAL-11"));
}

#[test]
fn aud_28_every_outside_string_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let h = history();
    export(dir.path(), &h.entries);
    let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>&amp;";
    write_series(dir.path(), &series(&h, hostile, hostile));
    let inventory = minimis_compare::MINIMIS_INVENTORY.replace(
        "system = \"minimis reference deployment\"",
        "system = \"<iframe src=https://evil.example>\"",
    );
    let inv_path = dir.path().join("hostile.toml");
    std::fs::write(&inv_path, inventory).unwrap();
    let html_path = dir.path().join("report.html");
    let out = report(
        dir.path(),
        &html_path,
        &h,
        &["--inventory", inv_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(!html.contains("<script"), "a script got through");
    assert!(!html.contains("<img"), "an image got through");
    assert!(!html.contains("<iframe"), "a frame got through");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&amp;amp;"));
    assert!(html.contains("&lt;iframe src=https://evil.example&gt;"));
    assert_eq!(external_references(&html), Vec::<String>::new());
    // The minimis inventory, even renamed, has no gap.
    assert!(html.contains("no gap"));
}

#[test]
fn aud_29_without_the_demo_series_the_report_says_where_those_charts_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let h = history();
    export(dir.path(), &h.entries);
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no demo-series.json"), "{}", text(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    // The two charts from the log are there; the demo's two are a note.
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("chart-accesses") && html.contains("chart-challenges"));
    assert_eq!(
        html.matches("minimis demo --export DIR</code>, which writes <code>DIR/demo-series.json")
            .count(),
        2
    );
}

#[test]
fn aud_29_the_demo_figures_and_estimates_are_marked_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let h = full_export(dir.path());
    let html_path = dir.path().join("report.html");
    assert_eq!(
        report(dir.path(), &html_path, &h, &[]).status.code(),
        Some(0)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(
        html.matches("demo's measurements, not audited facts")
            .count(),
        2,
        "both demo charts say their figures are not audited"
    );
    // Three estimates in the series: each marked in the table, and in the chart.
    assert_eq!(
        html.matches("<span class=\"estimate\">(estimate)</span>")
            .count(),
        3
    );
    assert!(
        html.contains("(estimate)\n</text>"),
        "the chart labels its estimates"
    );
    assert!(html.contains("SmartLINK as documented, estimate"));
}

#[test]
fn aud_12_aud_27_the_report_exits_like_the_audit() {
    let h = history();
    // A violated claim: exit 1, and the report is written and says so.
    let mut entries = h.entries.clone();
    let at = entries
        .iter()
        .position(|e| matches!(e, LogEntry::EpochKeyDestroyed { .. }))
        .unwrap();
    entries.remove(at);
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &entries);
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("A policy claim is violated."));
    assert!(html.contains("logged no key destruction"));
    // A log that does not verify: exit 3, and no report.
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    let path = dir.path().join("log/tile/entries/001");
    let mut bundle = std::fs::read(&path).unwrap();
    bundle[5] ^= 0x40;
    std::fs::write(&path, bundle).unwrap();
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!html_path.exists());
    // Usage: no --html, or a directory that is not one.
    let out = crate::minimis()
        .args(["audit", "report"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--html"), "{}", text(&out));
    let out = report(&dir.path().join("nothing"), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("is not a directory"));
    // A malformed demo series, a file of the directory audited: the export does not
    // verify (exit 3, AUD-30), naming the file; no report.
    let dir = tempfile::tempdir().unwrap();
    export(dir.path(), &h.entries);
    std::fs::write(dir.path().join(DEMO_SERIES_FILE), "{\"format\": 1}").unwrap();
    let out = report(dir.path(), &dir.path().join("r.html"), &h, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(DEMO_SERIES_FILE), "{}", text(&out));
    assert!(!dir.path().join("r.html").exists());
}

/// Debian's chromium, or `$CHROMIUM`.
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

fn chromium_run(profile: &Path, args: &[String]) -> Output {
    std::process::Command::new(chromium())
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs (apt-get install chromium)")
}

/// The width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// Where the test writes its screenshot: under target/, never in the repository.
fn screenshot_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-chromium");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
#[ignore = "needs chromium; run by .ci/run"]
fn aud_27_the_report_renders_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    let h = full_export(dir.path());
    let html_path = dir.path().join("report.html");
    let out = report(dir.path(), &html_path, &h, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let url = format!("file://{}", html_path.display());
    let profile = tempfile::tempdir().unwrap();

    // The DOM as the browser built it: the four charts, parsed as SVG, with their
    // titles, and the checks table.
    let out = chromium_run(profile.path(), &["--dump-dom".to_owned(), url.clone()]);
    assert!(out.status.success(), "{}", text(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dom.matches("<svg ").count(), 4, "{dom}");
    for id in [
        "chart-categories",
        "chart-held",
        "chart-accesses",
        "chart-challenges",
    ] {
        assert!(dom.contains(&format!("id=\"{id}-title\"")), "{id}");
    }
    assert!(
        dom.contains("<rect") && dom.contains("<polyline"),
        "charts have shapes"
    );
    assert!(dom.contains("AUD-5") && dom.contains("RET-1"));

    // A screenshot: it exists, is a PNG of the window's size and is not blank.
    let png = screenshot_dir().join("report.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium_run(
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1000,2400".to_owned(),
            url,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1000, 2400));
    // A blank page of this size compresses to a few kilobytes; text and charts do not.
    assert!(bytes.len() > 40_000, "{} bytes: a blank page?", bytes.len());
}
