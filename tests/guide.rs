//! The configuration reference (`spec/configuration.md`) and the operator's guide
//! (`guide/operator.md`), held against the code: every key each real parser accepts is
//! documented and every documented key is accepted (CFG-2); every example file parses
//! (CFG-5); the guide's own files and `minimis` commands, extracted from its text, bring
//! up the stack on loopback (CFG-7); the agency custodian refuses to start without its
//! oversight link (CFG-6); and the enrollment station's bundles (ENR-30 to ENR-32).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minimis_client::station::{StationConfig, StationConfigError};
use minimis_custodian::CustodianConfig;
use minimis_custodian::caseload::Caseload;
use minimis_server::ServerConfig;

/// Generous: only catches a hang (tests never assert timings).
const PATIENCE: Duration = Duration::from_secs(90);

fn read(rel: &str) -> String {
    std::fs::read_to_string(crate::root().join(rel)).unwrap()
}

/// A configuration parser of the workspace, by the name the reference's markers use.
#[derive(Clone, Copy, Debug)]
enum Parser {
    Operator,
    Custodian,
    Station,
    Caseload,
}

impl Parser {
    fn of(name: &str) -> Self {
        match name {
            "operator" => Self::Operator,
            "custodian" => Self::Custodian,
            "station" => Self::Station,
            "caseload" => Self::Caseload,
            other => panic!("no parser for `{other}`"),
        }
    }

    /// What a minimal file needs before any other key (the custodian's `role`).
    fn prefix(self) -> &'static str {
        match self {
            Self::Custodian => "role = \"agency\"\n",
            _ => "",
        }
    }

    /// Parses `text` with the real parser; the error's text if it refuses it.
    fn parse(self, text: &str) -> Result<(), String> {
        match self {
            Self::Operator => ServerConfig::from_toml_str(text)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Self::Custodian => CustodianConfig::from_toml_str(text)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Self::Station => StationConfig::from_toml_str(text)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Self::Caseload => Caseload::check_text(text).map_err(|e| e.to_string()),
        }
    }

    /// The fields the parser accepts in the table whose header is `table` (`None`: the
    /// top level), from its own refusal of an unknown key; `None` if that place is not a
    /// table of fixed keys.
    fn fields(self, table: Option<&str>) -> Option<BTreeSet<String>> {
        const PROBE: &str = "zz_not_a_key";
        let text = match table {
            None => format!("{PROBE} = 1\n{}", self.prefix()),
            Some(t) => format!("{}[{t}]\n{PROBE} = 1\n", self.prefix()),
        };
        let err = self
            .parse(&text)
            .expect_err("an unknown key is refused (CFG-1)");
        if !err.contains(&format!("unknown field `{PROBE}`")) {
            return None;
        }
        let list = err
            .split_once("expected ")
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("{self:?} {table:?}: {err}"));
        Some(
            list.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Every key the parser accepts, dotted (`tls.cert`), found by asking it table by
    /// table.
    fn accepted_keys(self) -> BTreeSet<String> {
        let top = self
            .fields(None)
            .expect("the top level is a table of fixed keys");
        let mut keys = BTreeSet::new();
        for k in top {
            match self.fields(Some(&k)) {
                Some(sub) => keys.extend(sub.into_iter().map(|s| format!("{k}.{s}"))),
                None => {
                    keys.insert(k);
                }
            }
        }
        keys
    }
}

/// Fenced blocks that follow a line `<!-- MARKER: ARG -->` (or `<!-- MARKER -->`): (ARG,
/// the block's text), in order.
fn marked_blocks(text: &str, marker: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line
            .trim()
            .strip_prefix("<!-- ")
            .and_then(|r| r.strip_suffix(" -->"))
        else {
            continue;
        };
        let (name, arg) = rest.split_once(": ").unwrap_or((rest, ""));
        if name != marker {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "`{line}` is not followed by a fenced block"
        );
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push((arg.to_owned(), body));
    }
    out
}

/// The keys of each `<!-- config-keys: NAME -->` table: the first cell of each row, in
/// backquotes.
fn documented_keys(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("<!-- config-keys: ")
            .and_then(|r| r.strip_suffix(" -->"))
        {
            current = Some(name.to_owned());
            out.entry(name.to_owned()).or_default();
            continue;
        }
        let Some(name) = &current else { continue };
        if !line.starts_with('|') {
            if !line.trim().is_empty() || out[name].len() > 1 {
                current = None;
            }
            continue;
        }
        let cell = line
            .trim_start_matches('|')
            .split('|')
            .next()
            .unwrap()
            .trim();
        if let Some(key) = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
            out.get_mut(name).unwrap().insert(key.to_owned());
        }
    }
    out
}

#[test]
fn cfg_2_every_key_each_parser_accepts_is_documented_and_every_documented_key_is_accepted() {
    let reference = read("spec/configuration.md");
    let documented = documented_keys(&reference);
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        ["caseload", "custodian", "operator", "station"],
        "one key table per configuration file"
    );
    for (name, keys) in &documented {
        let parser = Parser::of(name);
        let accepted = parser.accepted_keys();
        // The probe is not vacuous: it finds the tables and the keys in them.
        assert!(!accepted.is_empty(), "{name}");
        let undocumented: Vec<_> = accepted.difference(keys).collect();
        let unknown: Vec<_> = keys.difference(&accepted).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "{name}: accepted by the parser but not in spec/configuration.md: {undocumented:?}; documented but refused by the parser: {unknown:?}"
        );
    }
    // The operator's and the custodians' nested tables are found (the probe reads them).
    assert!(Parser::Operator.accepted_keys().contains("witness.vkey"));
    assert!(
        Parser::Custodian
            .accepted_keys()
            .contains("keystore.dangerous_key_file_in_data_dir")
    );
}

/// The flags a command's `--help` shows, besides those that are not configuration.
fn help_flags(args: &[&str]) -> BTreeSet<String> {
    let out = crate::minimis().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .split([' ', ',', '=', '<'])
                .find(|w| w.starts_with("--"))
        })
        .filter(|f| !["--config", "--help", "--baseline-plaintext"].contains(f))
        .map(str::to_owned)
        .collect()
}

/// The flags of the paragraph "Flags over the file" that follows `section`'s heading.
fn documented_flags(reference: &str, section: &str) -> BTreeSet<String> {
    let from = reference.find(section).unwrap();
    let para = &reference[from..];
    let start = para.find("Flags over the file:").unwrap();
    let para = &para[start..];
    let end = para.find("\n\n").unwrap_or(para.len());
    para[..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|f| f.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn cfg_2_each_serve_commands_flags_are_documented_and_every_documented_flag_exists() {
    let reference = read("spec/configuration.md");
    for (section, command) in [
        ("## The operator's server", &["serve"][..]),
        ("## The key custodians", &["custodian", "serve"][..]),
    ] {
        let documented = documented_flags(&reference, section);
        let taken = help_flags(command);
        // Not vacuous: both sides found flags.
        assert!(taken.len() >= 5 && documented.len() >= 5, "{command:?}");
        assert_eq!(
            documented, taken,
            "{command:?}: spec/configuration.md against --help"
        );
    }
}

#[test]
fn cfg_1_every_parser_refuses_an_unknown_key_and_names_it() {
    for (parser, misspelt) in [
        (Parser::Operator, "[limits]\nmax_conections = 10\n"),
        (
            Parser::Custodian,
            "role = \"agency\"\n[keystore]\nkeyfile = \"k\"\n",
        ),
        (
            Parser::Station,
            "[enrollment_key]\nfile = \"k\"\nname = \"a.example/e\"\nsecret_file = \"x\"\n",
        ),
        (Parser::Caseload, "[officer]\n"),
    ] {
        let err = parser.parse(misspelt).unwrap_err();
        let key = misspelt
            .lines()
            .last()
            .map(|l| {
                l.split([' ', '=', '[', ']'])
                    .find(|s| !s.is_empty())
                    .unwrap()
            })
            .unwrap();
        assert!(
            err.contains(&format!("unknown field `{key}`")),
            "{parser:?}: {err}"
        );
    }
}

/// The type column of each `<!-- config-keys: NAME -->` table: (NAME, key, type).
fn documented_types(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("<!-- config-keys: ")
            .and_then(|r| r.strip_suffix(" -->"))
        {
            current = Some(name.to_owned());
            continue;
        }
        let Some(name) = &current else { continue };
        if !line.starts_with('|') {
            if !line.trim().is_empty() {
                current = None;
            }
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        out.push((
            name.clone(),
            cells[0].trim_matches('`').to_owned(),
            cells[1].to_owned(),
        ));
    }
    out
}

#[test]
fn cfg_3_no_configuration_key_holds_a_secret_secrets_are_named_by_path_or_variable() {
    let reference = read("spec/configuration.md");
    let types = documented_types(&reference);
    // Every key the parsers accept has a documented type (CFG-2 holds the sets equal).
    assert!(types.len() > 60, "{}", types.len());
    // The types a key may have: none of them is a secret's value.
    let public = [
        "path",
        "address",
        "string",
        "integer",
        "boolean",
        "base64 key",
        "vkey",
        "list of vkeys",
        // A list of tables (`[[witnesses]]`): each of its keys has its own row and type.
        "array of tables",
        "key name",
        "RFC 7512 URI",
        "table: officer id",
        "`\"agency\"` or `\"oversight\"`",
        // `sqlite` or a URL with no password in it (refused below with one).
        "`sqlite` or a PostgreSQL URL",
    ];
    for (file, key, ty) in &types {
        assert!(
            public.iter().any(|p| ty.starts_with(p)),
            "{file}: {key} has type `{ty}`, which is not one of the public types"
        );
    }
    // The string keys hold a name, never a secret: a variable's name, a TLS name, an
    // origin, a URL path prefix.
    let strings: BTreeSet<_> = types
        .iter()
        .filter(|(_, _, t)| t == "string")
        .map(|(_, k, _)| k.as_str())
        .collect();
    assert_eq!(
        strings,
        BTreeSet::from([
            "keystore.passphrase_env",
            "log_origin",
            "operator.server_name",
            "oversight.server_name",
            "witness.prefix",
            "witness.server_name",
        ])
    );
    // A secret written inline is refused, by each parser.
    for (parser, inline) in [
        (
            Parser::Custodian,
            "role = \"agency\"\n[keystore]\npassphrase = \"correct horse battery staple\"\n",
        ),
        (
            Parser::Custodian,
            "role = \"agency\"\n[keystore]\npkcs11 = \"pkcs11:token=t?module-path=m.so&pin-value=1234\"\n",
        ),
        (
            Parser::Operator,
            "[tls]\nkey_pem = \"-----BEGIN PRIVATE KEY-----\"\n",
        ),
        (
            Parser::Operator,
            "store = \"postgres://minimis:correct-horse@db.example/minimis\"\n",
        ),
        (
            Parser::Station,
            "[enrollment_key]\nseed = \"AAAA\"\nname = \"a.example/e\"\n",
        ),
    ] {
        assert!(parser.parse(inline).is_err(), "{parser:?} took {inline}");
    }
}

/// Placeholder values of the right shape for the guide's `<… printed by …>` fields.
fn stand_in(label: &str) -> &'static str {
    match label {
        "log key" => "localhost/minimis-log+30ab627d+AVYHHnJ8Vn2KRZX2r09e3Y3hSMKkEehObVRNUNFRvsGK",
        "witness key" => {
            "oversight.example/witness+b4d021eb+BKn2e4idEBYulI1oRzsbEVQR5JqI7N7pxrnZ3Xc/YCYA"
        }
        _ => "pkR8rnjOCVmy1OVvK1JSC/Sy4IMop1bQsE7ye6N8bTE=",
    }
}

/// `text` with each `<LABEL printed by the WHO>` replaced by `value(LABEL, WHO)`.
fn fill(text: &str, value: &dyn Fn(&str, &str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('>').expect("a placeholder is closed");
        let inner = &after[..end];
        match inner.split_once(" printed by the ") {
            Some((label, who)) => out.push_str(&value(label, who)),
            None => {
                out.push('<');
                out.push_str(inner);
                out.push('>');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The operator's `[witness]` files, read when its configuration is parsed, made in
/// `dir` and named by absolute paths.
fn with_witness_files(text: &str, dir: &Path) -> String {
    let mut value: toml::Table = toml::from_str(text).unwrap();
    if let Some(toml::Value::Table(w)) = value.get_mut("witness") {
        for key in ["ca", "client_cert", "client_key"] {
            let path = dir.join(key);
            std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n").unwrap();
            w.insert(key.into(), toml::Value::String(path.display().to_string()));
        }
    }
    toml::to_string(&value).unwrap()
}

#[test]
fn cfg_5_every_example_file_of_the_reference_and_the_guide_parses_with_the_real_parser() {
    let dir = tempfile::tempdir().unwrap();
    let reference = read("spec/configuration.md");
    let examples = marked_blocks(&reference, "config-example");
    let mut seen = BTreeSet::new();
    for (name, body) in &examples {
        let parser = Parser::of(name);
        let body = match parser {
            Parser::Operator => with_witness_files(body, dir.path()),
            _ => body.clone(),
        };
        parser
            .parse(&body)
            .unwrap_or_else(|e| panic!("the {name} example does not parse: {e}\n{body}"));
        seen.insert(name.clone());
    }
    assert_eq!(seen.len(), 4, "an example for each file: {seen:?}");

    let guide = read("guide/operator.md");
    let files = marked_blocks(&guide, "guide-file");
    let mut parsed = 0;
    for (file, body) in &files {
        let body = fill(body, &|label, _| stand_in(label).to_owned());
        let parser = match file.as_str() {
            "operator.toml" => Parser::Operator,
            "oversight.toml" | "agency.toml" => Parser::Custodian,
            "station.toml" => Parser::Station,
            "caseload.toml" => Parser::Caseload,
            _ => continue,
        };
        let body = match parser {
            Parser::Operator => with_witness_files(&body, dir.path()),
            _ => body,
        };
        parser
            .parse(&body)
            .unwrap_or_else(|e| panic!("the guide's {file} does not parse: {e}\n{body}"));
        parsed += 1;
    }
    assert_eq!(parsed, 6, "the guide's configuration files");
}

// ---- the guide, run --------------------------------------------------------------------

/// One step of the guide, in order.
#[derive(Debug)]
enum Step {
    File(String, String),
    Run(String),
    Service(String, String),
    Stop(String),
    /// The guide's `curl …/v1/log/checkpoint`, done by the test: wait until the
    /// operator's checkpoint carries the witness's cosignature.
    WaitCosigned,
}

fn steps(guide: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line
            .trim()
            .strip_prefix("<!-- guide-")
            .and_then(|r| r.strip_suffix(" -->"))
        else {
            continue;
        };
        let (kind, arg) = rest.split_once(": ").unwrap_or((rest, ""));
        if kind == "stop" {
            out.push(Step::Stop(arg.to_owned()));
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "`{line}` has no block");
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push(match kind {
            "file" => Step::File(arg.to_owned(), body),
            "run" => Step::Run(body.trim().to_owned()),
            "service" => Step::Service(arg.to_owned(), body.trim().to_owned()),
            "wait" if arg == "cosigned" => Step::WaitCosigned,
            other => panic!("unknown guide marker {other}"),
        });
    }
    out
}

/// A service the guide started: its process and the lines it printed.
struct Service {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// The value printed after `label` (`  log key            localhost/…`).
    fn printed(&self, label: &str) -> Option<String> {
        self.lines.lock().unwrap().iter().find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            if !rest.starts_with("  ") {
                return None;
            }
            rest.split_whitespace().next().map(str::to_owned)
        })
    }

    fn wait_for(&mut self, what: &str, name: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(what)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{name} exited ({status}) before `{what}`: {:?}",
                    self.lines.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not print `{what}`: {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command line of the guide, run in `dir` with `minimis` the binary under test.
fn command(line: &str, dir: &Path) -> Command {
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("minimis"), "{line}");
    let mut cmd = crate::minimis();
    cmd.args(words).current_dir(dir);
    cmd
}

/// What the test stands in for (the curl steps and the device): the values the guide's
/// `<pseudonym>` and `<device key>` take.
struct Device {
    key: minimis_crypto::SigningKey,
    pseudonym: Option<String>,
}

#[test]
fn cfg_7_the_operators_guide_brings_up_the_stack_from_its_own_files_and_commands() {
    let guide = read("guide/operator.md");
    let steps = steps(&guide);
    assert!(steps.len() >= 12, "the guide's marked steps: {steps:?}");
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<(String, String)> = [8443, 8444, 8445]
        .iter()
        .map(|p| {
            (
                format!("127.0.0.1:{p}"),
                format!("127.0.0.1:{}", free_port()),
            )
        })
        .collect();
    let on_free_ports = |text: &str| {
        ports
            .iter()
            .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
    };
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    let mut device = Device {
        key: minimis_crypto::SigningKey::generate().unwrap(),
        pseudonym: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut enrollment_vkey = None;
    for step in &steps {
        let value = |label: &str, who: &str| -> String {
            services
                .get(who)
                .and_then(|s| s.printed(label))
                .unwrap_or_else(|| panic!("`{label}` printed by the {who}: not printed yet"))
        };
        match step {
            Step::File(name, body) => {
                let text = on_free_ports(&fill(body, &value));
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            Step::Run(line) => {
                let mut line = on_free_ports(line);
                if line.contains("<pseudonym>") {
                    // The guide's curl step, done by the test: the officer enrolls the
                    // device with the operator over mutual TLS.
                    let pseudonym = rt.block_on(enroll(dir.path(), &ports[0].1, &device.key));
                    device.pseudonym = Some(pseudonym.clone());
                    let key = device.key.public_key().to_base64();
                    line = line
                        .replace("<pseudonym>", &pseudonym)
                        .replace("<device key>", &key);
                }
                let out = command(&line, dir.path()).output().unwrap();
                assert!(
                    out.status.success(),
                    "`{line}` failed: {}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if line.contains("agency keygen") {
                    enrollment_vkey =
                        Some(String::from_utf8(out.stdout).unwrap().trim().to_owned());
                }
            }
            Step::Service(name, line) => {
                let mut child = command(&on_free_ports(line), dir.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let lines = Arc::new(Mutex::new(Vec::new()));
                for out in [
                    Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                    Box::new(child.stderr.take().unwrap()),
                ] {
                    let lines = Arc::clone(&lines);
                    std::thread::spawn(move || {
                        for l in BufReader::new(out).lines().map_while(Result::ok) {
                            lines.lock().unwrap().push(l);
                        }
                    });
                }
                let mut s = Service { child, lines };
                let ready = if name == "operator" {
                    "log key"
                } else {
                    "epoch keys made"
                };
                s.wait_for(ready, name);
                services.insert(name.clone(), s);
            }
            Step::Stop(name) => {
                let mut s = services.remove(name).expect("a running service");
                s.child.kill().unwrap();
                s.child.wait().unwrap();
            }
            Step::WaitCosigned => {
                let witness = services["oversight"].printed("witness key").unwrap();
                let name = witness.split('+').next().unwrap().to_owned();
                rt.block_on(cosigned(dir.path(), &ports[0].1, &name));
            }
        }
    }
    // Every service the guide starts is up, and each printed what the others pin.
    for name in ["operator", "oversight", "agency"] {
        assert!(services.contains_key(name), "{name} is running");
    }
    // The bundle the station issued verifies under the key `agency keygen` printed, for
    // the device the test enrolled, with the keys each service printed.
    let note = std::fs::read_to_string(dir.path().join("bundle.note")).unwrap();
    let vkey: minimis_log::VerifierKey = enrollment_vkey.unwrap().parse().unwrap();
    let bundle = minimis_client::Bundle::open(&note, &vkey).unwrap();
    assert_eq!(bundle.device_key, device.key.public_key());
    assert_eq!(bundle.pseudonym.to_hex(), device.pseudonym.unwrap());
    assert_eq!(
        bundle.log_key.to_string(),
        services["operator"].printed("log key").unwrap()
    );
    assert_eq!(
        bundle.custodians.agency.to_base64(),
        services["agency"].printed("custodian key").unwrap()
    );
    assert_eq!(
        bundle.custodians.oversight.unwrap().to_base64(),
        services["oversight"].printed("custodian key").unwrap()
    );
    assert_eq!(
        bundle
            .witnesses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![services["oversight"].printed("witness key").unwrap()]
    );
    // The custodians published their recipients through the restarted operator, and the
    // witness cosigned its checkpoint: the audit step (run above, exit 0) needed both.
    let lines = services["operator"].lines.lock().unwrap().clone();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("no custodian keys configured")),
        "{lines:?}"
    );
}

/// Waits until the operator's checkpoint carries a cosignature line of the witness
/// `name` (the guide's `curl …/v1/log/checkpoint`).
async fn cosigned(dir: &Path, operator: &str, name: &str) {
    use minimis_client::Api;
    use minimis_client::transport::Https;
    let roots = std::fs::read_to_string(dir.join("pki/ca.crt")).unwrap();
    let api = Api::new(Https::new(operator.parse().unwrap(), "localhost", &roots, None).unwrap());
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(c) = api.checkpoint().await
            && String::from_utf8_lossy(&c).contains(&format!("\u{2014} {name} "))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the witness {name} did not cosign the operator's checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The guide's enrollment (its curl step): `POST /v1/enrollments` with the officer's
/// certificate from the guide's PKI and the guide's schedule.
async fn enroll(dir: &Path, operator: &str, key: &minimis_crypto::SigningKey) -> String {
    use minimis_client::Api;
    use minimis_client::transport::Https;
    let roots = std::fs::read_to_string(dir.join("pki/ca.crt")).unwrap();
    let cert = std::fs::read_to_string(dir.join("pki/officer-0001.crt")).unwrap();
    let officer_key = std::fs::read_to_string(dir.join("pki/officer-0001.key")).unwrap();
    let schedule: minimis_proto::Schedule =
        serde_json::from_str(&std::fs::read_to_string(dir.join("schedule.json")).unwrap()).unwrap();
    let api = Api::new(
        Https::new(
            operator.parse().unwrap(),
            "localhost",
            &roots,
            Some((cert.as_str(), officer_key.as_str())),
        )
        .unwrap(),
    );
    let tags = minimis_crypto::TagKey::generate().unwrap();
    let answer = api.enroll(key, &tags, &schedule).await.unwrap();
    answer.pseudonym.to_hex()
}

// ---- the agency custodian from flags ---------------------------------------------------

#[test]
fn cfg_6_under_two_custodians_the_agency_custodian_refuses_to_start_without_its_oversight_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), "").unwrap();
    let out = crate::minimis()
        .args([
            "custodian",
            "serve",
            "--role",
            "agency",
            "--data-dir",
            "agency-data",
            "--key-file",
            "agency.key",
            "--operator",
            "127.0.0.1:9",
            "--operator-ca",
            "ca.crt",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for named in ["--oversight ADDR", "--oversight-client-cert", "[oversight]"] {
        assert!(err.contains(named), "{err}");
    }
    // Refused before it made anything: no keystore, no key file.
    assert!(!dir.path().join("agency-data").exists());
    assert!(!dir.path().join("agency.key").exists());
    // Half the link is a usage error too.
    let out = crate::minimis()
        .args([
            "custodian",
            "serve",
            "--role",
            "agency",
            "--oversight",
            "127.0.0.1:9",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---- the enrollment station ------------------------------------------------------------

/// A station configuration for `dir`, with fresh keys; `oversight`: whether it gives an
/// oversight custodian's key.
fn station(dir: &Path, oversight: bool) -> String {
    let key = |_| {
        minimis_crypto::SigningKey::generate()
            .unwrap()
            .public_key()
            .to_base64()
    };
    let log = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
        minimis_crypto::SigningKey::generate().unwrap(),
    )
    .verifier_key();
    let witness = minimis_log::Cosigner::new(
        minimis_log::KeyName::new("oversight.example/witness").unwrap(),
        minimis_crypto::SigningKey::generate().unwrap(),
    )
    .verifier_key();
    let mut text = format!(
        "[enrollment_key]\nfile = \"{}\"\nname = \"agency.example/enrollment\"\n[operator]\nchallenge_key = \"{}\"\nlog_key = \"{log}\"\nwitnesses = [\"{witness}\"]\n[custodians]\nagency = \"{}\"\n",
        dir.join("enrollment.key").display(),
        key(0),
        key(1),
    );
    if oversight {
        text.push_str(&format!("oversight = \"{}\"\n", key(2)));
    }
    text
}

const SCHEDULE: &str = r#"{ "time_zone": "America/Chicago", "windows": [{ "weekday": "thursday", "start": "09:00", "end": "12:00" }], "daily_cap": 1, "adhoc_cap_30d": 2 }"#;

#[test]
fn enr_30_a_bundle_issued_by_the_station_is_accepted_by_the_device_under_the_pinned_key_only() {
    use minimis_client::notice::{Language, show};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen = crate::minimis()
        .args([
            "agency",
            "keygen",
            "--key-file",
            &d.join("enrollment.key").display().to_string(),
            "--name",
            "agency.example/enrollment",
        ])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let vkey: minimis_log::VerifierKey = String::from_utf8(keygen.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::write(d.join("station.toml"), station(d, true)).unwrap();
    std::fs::write(d.join("schedule.json"), SCHEDULE).unwrap();
    let device = minimis_crypto::SigningKey::generate().unwrap();
    let pseudonym = "70736575646f6e796d2d303030303031";
    let out = crate::minimis()
        .args([
            "agency",
            "issue-bundle",
            "--config",
            &d.join("station.toml").display().to_string(),
            "--pseudonym",
            pseudonym,
            "--device-key",
            &device.public_key().to_base64(),
            "--schedule",
            &d.join("schedule.json").display().to_string(),
            "--issued",
            "1790000000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let note = String::from_utf8(out.stdout).unwrap();
    let policy = minimis_proto::DEFAULT_POLICY_TOML;
    let enroll = |vkey: &minimis_log::VerifierKey, key: minimis_crypto::SigningKey| {
        let (_, shown) = show(&minimis_proto::default_policy(), Language::English, None);
        minimis_client::Device::enroll(
            &note,
            vkey,
            policy,
            None,
            shown,
            key,
            minimis_crypto::TagKey::generate().unwrap(),
        )
    };
    let seed = *device.expose_seed();
    let enrolled = enroll(&vkey, minimis_crypto::SigningKey::from_seed(&seed).unwrap()).unwrap();
    assert_eq!(enrolled.pseudonym().to_hex(), pseudonym);
    assert_eq!(enrolled.bundle().unwrap().issued.seconds(), 1_790_000_000);
    // Under any other key (an operator's, say), the device refuses it.
    let other = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("agency.example/enrollment").unwrap(),
        minimis_crypto::SigningKey::generate().unwrap(),
    )
    .verifier_key();
    assert!(matches!(
        enroll(
            &other,
            minimis_crypto::SigningKey::from_seed(&seed).unwrap()
        ),
        Err(minimis_client::BundleError::Signature)
    ));
}

#[test]
fn enr_31_the_station_refuses_custodian_keys_that_are_not_the_policys_and_a_schedule_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |station_text: &str, schedule: &str, zone: bool| {
        std::fs::write(d.join("station.toml"), station_text).unwrap();
        std::fs::write(d.join("schedule.json"), schedule).unwrap();
        let mut cmd = crate::minimis();
        cmd.args([
            "agency",
            "issue-bundle",
            "--config",
            "station.toml",
            "--pseudonym",
            "70736575646f6e796d2d303030303031",
            "--device-key",
            &minimis_crypto::SigningKey::generate()
                .unwrap()
                .public_key()
                .to_base64(),
            "--schedule",
            "schedule.json",
            "--out",
            "bundle.note",
        ])
        .current_dir(d);
        if zone {
            cmd.args(["--zone", "zone.geojson", "--zone-salt", "zone.salt"]);
        }
        cmd.output().unwrap()
    };
    std::fs::write(
        d.join("zone.geojson"),
        r#"{"type":"Polygon","coordinates":[[[-88.0,41.0],[-87.0,41.0],[-87.0,42.0],[-88.0,42.0],[-88.0,41.0]]]}"#,
    )
    .unwrap();
    let key = crate::minimis()
        .args([
            "agency",
            "keygen",
            "--key-file",
            "enrollment.key",
            "--name",
            "a.example/e",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(key.status.success(), "{key:?}");
    // The check is not vacuous: with the policy's custodians and a schedule within it, the
    // same command issues a bundle and writes the zone's salt.
    let ok = run(&station(d, true), SCHEDULE, true);
    assert!(ok.status.success(), "{ok:?}");
    assert!(d.join("bundle.note").exists() && d.join("zone.salt").exists());
    std::fs::remove_file(d.join("bundle.note")).unwrap();
    std::fs::remove_file(d.join("zone.salt")).unwrap();
    // The reference policy names two custodians: a station with one key is refused.
    let one = run(&station(d, false), SCHEDULE, true);
    assert_eq!(one.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&one.stderr).contains("custodian"),
        "{one:?}"
    );
    // A schedule outside the policy (more than its daily cap) is refused.
    let wide = SCHEDULE.replace("\"daily_cap\": 1", "\"daily_cap\": 200");
    let out = run(&station(d, true), &wide, true);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Nothing was written by either refusal.
    assert!(!d.join("bundle.note").exists());
    assert!(!d.join("zone.salt").exists());
}

#[test]
fn enr_32_the_enrollment_key_is_made_once_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = || {
        crate::minimis()
            .args([
                "agency",
                "keygen",
                "--key-file",
                "e.key",
                "--name",
                "agency.example/e",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let first = keygen();
    assert!(first.status.success(), "{first:?}");
    let before = std::fs::read(dir.path().join("e.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("e.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = keygen();
    assert_eq!(second.status.code(), Some(2));
    assert_eq!(std::fs::read(dir.path().join("e.key")).unwrap(), before);
    // The station's configuration cannot hold the key itself: only a file names it.
    assert!(matches!(
        StationConfig::from_toml_str(
            "[enrollment_key]\nseed = \"AAAA\"\nname = \"a.example/e\"\n[operator]\nchallenge_key = \"\"\nlog_key = \"\"\n[custodians]\nagency = \"\"\n"
        ),
        Err(StationConfigError::Toml(_))
    ));
}
