//! Cross-crate and end-to-end tests: one binary, a module per area. Test names start with
//! the requirement IDs they check (see `spec/traceability.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod audit_https;
mod bench;
mod cli;
mod client;
mod compare;
mod crash;
mod custodian;
mod demo;
mod deps;
mod export;
mod fuzz_corpus;
mod guide;
mod hermetic;
mod interop;
mod obligations;
mod openapi;
mod postgres;
mod report;
mod schema;
mod server;
mod services;
mod token;
mod vectors;
mod wire;
mod witness;

/// The repository root.
pub(crate) fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `minimis` binary built for this test run.
pub(crate) fn minimis() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_minimis"))
}

/// How a bounded run of `minimis` ended.
pub(crate) struct Bounded {
    pub(crate) output: std::process::Output,
}

impl Bounded {
    /// The exit code (`None` if a signal ended it, an abort on failed allocation
    /// included).
    pub(crate) fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Its standard output, standard error and exit status, for a failure message.
    pub(crate) fn text(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }
}

/// Runs `cmd` (a `minimis` command) with at most `memory` bytes of address space
/// (`RLIMIT_AS`, set with prlimit(2) as soon as the child exists, before it has read
/// anything of what it is given) and at most `seconds` of wall-clock time, after which it
/// is killed and the test fails. So a regression that reads without bound hits the
/// memory limit (the child aborts, the test fails) instead of the machine's, and one that
/// hangs fails after `seconds` instead of never. The limits only catch such regressions:
/// the runs take a fraction of them.
#[cfg(target_os = "linux")]
pub(crate) fn run_bounded(mut cmd: std::process::Command, memory: u64, seconds: u64) -> Bounded {
    use std::io::Read as _;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::prlimit(
        Some(pid),
        rustix::process::Resource::As,
        rustix::process::Rlimit {
            current: Some(memory),
            maximum: Some(memory),
        },
    )
    .unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "minimis did not finish within {seconds} s: {:?}",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Bounded {
        output: std::process::Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
    }
}
