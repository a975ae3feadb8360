//! The fuzz targets under `cargo test`: every seed of `fuzz/corpus/<target>/` and every
//! input a fuzzer once crashed on, kept in `fuzz/regressions/<target>/`, replayed
//! through the very function the libFuzzer harness calls (`minimis_testkit::fuzz`).
//! A panic here is a decoder that panics on outside input (AUD-40), or a property (one
//! encoding, a round trip, a verified signature) that no longer holds (AUD-41).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use minimis_testkit::fuzz::{Outcome, TARGETS, target};

fn fuzz_dir() -> PathBuf {
    crate::root().join("fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

fn subdirs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `target` on `file`, naming the file if it panics.
fn replay(name: &str, file: &Path) -> Outcome {
    let t = target(name).unwrap_or_else(|| panic!("no target {name}"));
    let bytes = std::fs::read(file).unwrap();
    match std::panic::catch_unwind(|| (t.run)(&bytes)) {
        Ok(o) => o,
        Err(_) => panic!("fuzz target {name} panics on {}", file.display()),
    }
}

#[test]
fn aud_41_every_fuzz_target_has_its_harness_and_its_seeds() {
    let dir = fuzz_dir();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let harnesses: BTreeSet<String> = files(&dir.join("fuzz_targets"))
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let names: BTreeSet<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
    assert_eq!(
        harnesses, names,
        "fuzz/fuzz_targets/ and minimis_testkit::fuzz::TARGETS"
    );
    for t in TARGETS {
        let harness =
            std::fs::read_to_string(dir.join("fuzz_targets").join(format!("{}.rs", t.name)))
                .unwrap();
        assert!(
            harness.contains(&format!("minimis_testkit::fuzz::{}(data)", t.name)),
            "fuzz/fuzz_targets/{}.rs must call minimis_testkit::fuzz::{}(data)",
            t.name,
            t.name
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{0}\"\npath = \"fuzz_targets/{0}.rs\"",
                t.name
            )),
            "fuzz/Cargo.toml has no [[bin]] for {}",
            t.name
        );
        assert!(
            !files(&dir.join("corpus").join(t.name)).is_empty(),
            "fuzz/corpus/{} is empty: every target starts from seeds",
            t.name
        );
    }
    // No folder of seeds or regressions for a target that does not exist.
    for sub in ["corpus", "regressions"] {
        for d in subdirs(&dir.join(sub)) {
            assert!(
                names.contains(&d),
                "fuzz/{sub}/{d} is not a target's folder"
            );
        }
    }
}

#[test]
fn aud_40_aud_41_fuzz_seeds_replay_and_reach_past_every_decoder() {
    let dir = fuzz_dir().join("corpus");
    let mut total = 0u64;
    for t in TARGETS {
        let seeds = files(&dir.join(t.name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{} is empty", t.name);
        let accepted = seeds
            .iter()
            .filter(|f| replay(t.name, f) == Outcome::Accepted)
            .count();
        // Seeds that the decoder refuses would fuzz its first checks only.
        assert!(
            accepted > 0,
            "no seed of fuzz/corpus/{} passes its decoder's checks",
            t.name
        );
        total += seeds
            .iter()
            .map(|f| f.metadata().unwrap().len())
            .sum::<u64>();
    }
    // Small enough to clone: the fuzzer grows its working corpus in fuzz/work/.
    assert!(total < 2 << 20, "the seed corpora are {total} bytes");
}

#[test]
fn aud_40_aud_41_fuzz_regressions_replay_without_a_panic() {
    let dir = fuzz_dir().join("regressions");
    for t in TARGETS {
        for f in files(&dir.join(t.name)) {
            replay(t.name, &f);
        }
    }
}
