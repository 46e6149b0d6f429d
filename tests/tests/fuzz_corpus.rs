//! Replays every committed fuzz input on stable: each file of `fuzz/corpus/<target>/` and of
//! `fuzz/regressions/<target>/` (the inputs that found bugs) goes through the same check the
//! fuzz target runs (`velaro_tests::fuzz_checks`), so CI keeps every bug the fuzzers found
//! fixed without needing nightly or libFuzzer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use velaro_tests::fuzz_checks::{Check, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the folder does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("{dir:?}: {e}")).path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn check(target: &str) -> Check {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .unwrap_or_else(|| panic!("no check for fuzz target `{target}`"))
}

/// Runs every input of `fuzz/<kind>/<target>/` through the target's check; fails naming every
/// input that fails, not only the first.
fn replay(kind: &str, target: &str) -> usize {
    let check = check(target);
    let files = inputs(kind, target);
    let failed: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&data)));
            outcome.err().map(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                format!("{}: {message}", path.display())
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs fail the `{target}` check:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    files.len()
}

macro_rules! replay_tests {
    ($($target:ident),+ $(,)?) => {
        $(
            mod $target {
                #[test]
                fn corpus() {
                    let count = super::replay("corpus", stringify!($target));
                    assert!(count > 0, "fuzz/corpus/{} is empty", stringify!($target));
                }

                #[test]
                fn regressions() {
                    super::replay("regressions", stringify!($target));
                }
            }
        )+

        /// Every check has its tests above, a fuzz target, and a corpus.
        #[test]
        fn every_target_is_replayed() {
            let replayed = [$(stringify!($target)),+];
            for (name, _) in TARGETS {
                assert!(replayed.contains(name), "add `{name}` to replay_tests!");
                let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
                assert!(target.is_file(), "{target:?} is missing");
            }
            for entry in std::fs::read_dir(fuzz_dir().join("corpus")).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(replayed.contains(&name.as_str()), "fuzz/corpus/{name} is never replayed");
            }
        }
    };
}

replay_tests!(decode, sdp, candidate, ice_url, relay, call);
