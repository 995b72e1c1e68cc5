//! TSIG secrets never leave kmsdns (issue 8, DESIGN §7): every command, in
//! every output format, quiet and verbose, against the real BIND test bed,
//! with a fresh secret made by this test — in a key file (mode 0600) and in
//! an environment variable — succeeding, failing (wrong secret: BADSIG) and
//! refused. Neither the secret's base64 text nor its bytes (raw, or as hex)
//! may appear in standard output, standard error or any file written
//! (`bind --out`, `man --out`, `--textfile` where a command has it). A key
//! file that every local user can read is warned about by every command
//! that reads the configuration.
//!
//! The commands are taken from `kmsdns --help`, so a command added later
//! (such as `audit`) is covered without editing this file.

use crate::common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use common::bind::{Server, TestBed};
use common::run::{Kmsdns, Run};

/// The key the file holds, and the key the environment variable holds.
const FILE_KEY: &str = "kmsdns-secrets-file";
const ENV_KEY: &str = "kmsdns-secrets-env";
/// The environment variable of the `env =` key.
const ENV_VAR: &str = "KMSDNS_SECRETS_TEST_KEY";

/// A fresh 256-bit secret, and every form in which it could leak.
struct Secret {
    bytes: Vec<u8>,
    base64: String,
}

impl Secret {
    fn fresh() -> Secret {
        let mut bytes = vec![0u8; 32];
        fs::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut bytes))
            .expect("random bytes");
        let base64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        Secret { bytes, base64 }
    }

    /// Pieces long enough never to occur by chance: every 16 characters of
    /// the base64 and of the hex (either case), every 8 raw bytes.
    fn needles(&self) -> Vec<Vec<u8>> {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut needles = Vec::new();
        for text in [self.base64.clone(), hex.clone(), hex.to_ascii_uppercase()] {
            let text = text.as_bytes();
            needles.extend(text.windows(16).map(<[u8]>::to_vec));
        }
        needles.extend(self.bytes.windows(8).map(<[u8]>::to_vec));
        needles
    }

    /// A BIND key file, as `tsig-keygen -a hmac-sha256 NAME` writes it.
    fn key_file(&self, name: &str) -> String {
        format!(
            "key \"{name}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{}\";\n}};\n",
            self.base64
        )
    }

    /// The `NAME:ALGORITHM:SECRET` value of the environment variable.
    fn env_value(&self, name: &str) -> String {
        format!("{name}:hmac-sha256:{}", self.base64)
    }
}

/// Fails the test if any piece of any secret is in `bytes`.
fn assert_clean(what: &str, bytes: &[u8], secrets: &[&Secret]) {
    for secret in secrets {
        for needle in secret.needles() {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} shows the TSIG secret (or part of it):\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

/// Writes `text` to `path` with `mode`, as an administrator would.
fn write_mode(path: &Path, text: &str, mode: u32) {
    let _ = fs::remove_file(path);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    // The umask may have taken bits away; set exactly `mode`.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The commands `kmsdns --help` lists, without `help`.
fn commands() -> Vec<String> {
    let help = Kmsdns::new().args(["--help"]).run().stdout;
    let list = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Commands: section");
    let commands: Vec<String> = list
        .lines()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .map(str::to_string)
        .collect();
    assert!(
        commands.iter().any(|c| c == "publish"),
        "no commands found in:\n{help}"
    );
    commands
}

/// The option `--textfile` takes, when `command` has it.
fn has_textfile(command: &str) -> bool {
    Kmsdns::new()
        .args([command, "--help"])
        .run()
        .stdout
        .contains("--textfile")
}

/// The runs of one command: its arguments, and files or directories it
/// writes (to be searched too).
fn runs(command: &str, scratch: &Path, named_conf: &Path) -> Vec<(Vec<String>, Vec<PathBuf>)> {
    let out = scratch.join(format!("{command}-out"));
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut runs = match command {
        "remove" => vec![
            (args(&[]), vec![]),
            (args(&["--force"]), vec![]),
            (args(&["--host", "kms1.secure.example"]), vec![]),
        ],
        "updates" => vec![
            (args(&["--live"]), vec![]),
            (
                args(&["--named-conf", named_conf.to_str().expect("UTF-8")]),
                vec![],
            ),
        ],
        "discover" => vec![(args(&["--suffix", "secure.example"]), vec![])],
        "probe" => vec![
            (args(&["--host", "kms1.secure.example"]), vec![]),
            (args(&[]), vec![]),
        ],
        "completions" => vec![(args(&["bash"]), vec![])],
        "bind" | "man" => vec![
            (args(&[]), vec![]),
            (
                args(&["--out", out.to_str().expect("UTF-8")]),
                vec![out.clone()],
            ),
        ],
        _ => vec![(args(&[]), vec![])],
    };
    if has_textfile(command) {
        let textfile = scratch.join(format!("{command}.prom"));
        for (args, files) in &mut runs {
            args.push("--textfile".into());
            args.push(textfile.to_str().expect("UTF-8").into());
            files.push(textfile.clone());
        }
    }
    runs
}

/// Every regular file at `path` (a file, or a directory walked).
fn files_under(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir(path) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| files_under(&entry.path()))
        .collect()
}

/// Runs kmsdns with the test bed as resolver and `env` set, checks that no
/// secret shows, and returns the run.
fn run_clean(
    bed: &TestBed,
    config: &Path,
    env: &str,
    global: &[&str],
    command: &str,
    (args, written): &(Vec<String>, Vec<PathBuf>),
    secrets: &[&Secret],
) -> Run {
    for path in written {
        let _ = fs::remove_dir_all(path);
        let _ = fs::remove_file(path);
    }
    let run = Kmsdns::new()
        .env(ENV_VAR, env)
        .args(["-c", config.to_str().expect("UTF-8")])
        .bed(bed)
        .args(["--timeout", "1s"])
        .args(global)
        .args([command])
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .run();
    let what = format!("kmsdns {} {command} {}", global.join(" "), args.join(" "));
    assert_clean(&format!("stdout of {what}"), run.stdout.as_bytes(), secrets);
    assert_clean(&format!("stderr of {what}"), run.stderr.as_bytes(), secrets);
    for path in written {
        for file in files_under(path) {
            let bytes = fs::read(&file).expect("read a written file");
            assert_clean(
                &format!("{} written by {what}", file.display()),
                &bytes,
                secrets,
            );
        }
    }
    run
}

/// A configuration for kms1 and kms2 in `domains`, the first domain signed
/// with the key file, the others with the environment key.
fn write_config(dir: &Path, name: &str, domains: &[&str], key_file: &Path) -> PathBuf {
    let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    let mut text = format!(
        "publish-list = [{}]\n\n[[host]]\nname = \"kms1.secure.example\"\n\n[[host]]\nname = \"kms2.secure.example\"\n",
        list.join(", ")
    );
    for (i, domain) in domains.iter().enumerate() {
        let domain = domain.split(',').next().unwrap_or(domain);
        let key = if i == 0 { "file" } else { "env" };
        text.push_str(&format!("\n[domain.\"{domain}\"]\nkey = \"{key}\"\n"));
    }
    text.push_str(&format!(
        "\n[tsig-key.file]\nfile = \"{}\"\n\n[tsig-key.env]\nenv = \"{ENV_VAR}\"\n",
        key_file.display()
    ));
    let path = dir.join(name);
    fs::write(&path, text).expect("write the configuration");
    path
}

/// The test bed, a scratch directory, the two fresh secrets and the key
/// files BIND loads.
struct Setup {
    bed: TestBed,
    dir: tempfile::TempDir,
    file_secret: Secret,
    env_secret: Secret,
    key_file: PathBuf,
    named_conf: PathBuf,
}

impl Setup {
    fn start() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let file_secret = Secret::fresh();
        let env_secret = Secret::fresh();
        let key_file = dir.path().join("kmsdns-secrets.key");
        write_mode(&key_file, &file_secret.key_file(FILE_KEY), 0o600);
        // BIND learns the environment key from a file of its own.
        let env_key_file = dir.path().join("bind-env.key");
        write_mode(&env_key_file, &env_secret.key_file(ENV_KEY), 0o600);
        let bed = TestBed::builder()
            .tsig_key(FILE_KEY, &key_file)
            .tsig_key(ENV_KEY, &env_key_file)
            .start();
        // For `updates --named-conf`: the secret inline and by include.
        let named_conf = dir.path().join("named.conf");
        fs::write(
            &named_conf,
            format!(
                "include \"{}\";\n{}zone \"secure.example\" {{\n\ttype primary;\n\tfile \"secure.example.zone\";\n\tupdate-policy {{ grant {FILE_KEY} name _vlmcs._tcp.secure.example. SRV; grant {ENV_KEY} name _vlmcs._tcp.branch.secure.example. SRV; }};\n}};\n",
                key_file.display(),
                env_secret.key_file(ENV_KEY)
            ),
        )
        .expect("write named.conf");
        Setup {
            bed,
            dir,
            file_secret,
            env_secret,
            key_file,
            named_conf,
        }
    }
}

const FORMATS: [&str; 4] = ["text", "json", "nagios", "prometheus"];

#[test]
fn no_command_shows_a_secret_in_any_format() {
    let setup = Setup::start();
    let scratch = setup.dir.path();
    let secrets = [&setup.file_secret, &setup.env_secret];
    let config = write_config(
        scratch,
        "kmsdns.toml",
        &["secure.example", "branch.secure.example, 10, 75"],
        &setup.key_file,
    );
    let env = setup.env_secret.env_value(ENV_KEY);

    // The keys work: the first publish signs with both and succeeds.
    let publish = run_clean(
        &setup.bed,
        &config,
        &env,
        &["-v"],
        "publish",
        &(Vec::new(), Vec::new()),
        &secrets,
    );
    assert_eq!(publish.status, 0, "{}", publish.text());
    assert_eq!(
        setup
            .bed
            .srv_set(Server::PRIMARY, "_vlmcs._tcp.branch.secure.example.")
            .len(),
        2,
        "the environment key signed an accepted update"
    );

    let mut ran = 0;
    for command in commands() {
        for run in runs(&command, scratch, &setup.named_conf) {
            for format in FORMATS {
                for verbose in [&[][..], &["-v"], &["-vvv"]] {
                    let mut global = vec!["--format", format];
                    global.extend_from_slice(verbose);
                    run_clean(&setup.bed, &config, &env, &global, &command, &run, &secrets);
                    ran += 1;
                }
            }
        }
    }
    assert!(ran >= 100, "only {ran} runs");
}

#[test]
fn failing_commands_do_not_show_a_secret_either() {
    let setup = Setup::start();
    let scratch = setup.dir.path();
    // The server's secrets, and the other ones kmsdns is given: BADSIG.
    let wrong_file = Secret::fresh();
    let wrong_env = Secret::fresh();
    let secrets = [
        &setup.file_secret,
        &setup.env_secret,
        &wrong_file,
        &wrong_env,
    ];
    let wrong_key = scratch.join("wrong.key");
    write_mode(&wrong_key, &wrong_file.key_file(FILE_KEY), 0o600);
    let wrong = write_config(
        scratch,
        "wrong.toml",
        &["secure.example", "branch.secure.example, 10, 75"],
        &wrong_key,
    );
    let wrong_env_value = wrong_env.env_value(ENV_KEY);
    // static.example takes no update at all: REFUSED, signed or not.
    let refused = write_config(
        scratch,
        "refused.toml",
        &["static.example, 10, 10", "secure.example, 1, 1"],
        &setup.key_file,
    );
    let env = setup.env_secret.env_value(ENV_KEY);
    // A variable that does not parse, and one naming another algorithm.
    let broken_env = [
        format!("{ENV_KEY}:hmac-sha256:{}!", setup.env_secret.base64),
        format!("{ENV_KEY}:hmac-sha3:{}", setup.env_secret.base64),
        setup.env_secret.base64.clone(),
    ];

    let cases: Vec<(&Path, &str, &str)> = vec![
        (&wrong, wrong_env_value.as_str(), "BADSIG"),
        (&refused, env.as_str(), "REFUSED"),
        (&wrong, broken_env[0].as_str(), ""),
        (&wrong, broken_env[1].as_str(), ""),
        (&wrong, broken_env[2].as_str(), ""),
    ];
    for (config, env, expect) in &cases {
        // Every command that reads the configuration (and so the keys).
        let reading = commands()
            .into_iter()
            .filter(|c| !["completions", "man", "discover"].contains(&c.as_str()));
        for command in reading {
            let command = command.as_str();
            for run in runs(command, scratch, &setup.named_conf) {
                for format in FORMATS {
                    for verbose in [&[][..], &["-v"]] {
                        let mut global = vec!["--format", format];
                        global.extend_from_slice(verbose);
                        let output =
                            run_clean(&setup.bed, config, env, &global, command, &run, &secrets);
                        if command == "publish" && format == "text" && !expect.is_empty() {
                            assert_ne!(output.status, 0, "{}", output.text());
                            assert!(
                                output
                                    .text()
                                    .to_lowercase()
                                    .contains(&expect.to_lowercase()),
                                "{}",
                                output.text()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_key_file_every_user_can_read_is_warned_about_by_every_command() {
    let setup = Setup::start();
    let scratch = setup.dir.path();
    let secrets = [&setup.file_secret, &setup.env_secret];
    let env = setup.env_secret.env_value(ENV_KEY);
    let open_key = scratch.join("open.key");
    write_mode(&open_key, &setup.file_secret.key_file(FILE_KEY), 0o644);
    let open = write_config(scratch, "open.toml", &["secure.example"], &open_key);
    // Group read is BIND's own convention (root:bind 0640): not warned.
    let group_key = scratch.join("group.key");
    write_mode(&group_key, &setup.file_secret.key_file(FILE_KEY), 0o640);
    let group = write_config(scratch, "group.toml", &["secure.example"], &group_key);
    const WARNING: &str = "readable by every local user";

    // Commands that do not read the configuration have nothing to warn of.
    let no_config = ["completions", "man", "discover"];
    let mut warned = 0;
    for command in commands() {
        if no_config.contains(&command.as_str()) {
            continue;
        }
        let run = runs(&command, scratch, &setup.named_conf)
            .into_iter()
            .last()
            .expect("a run");
        // `probe --host` reads no configuration either; the plain run does.
        let run = if command == "probe" {
            (Vec::new(), Vec::new())
        } else {
            run
        };
        for format in ["text", "json"] {
            let global = ["--format", format];
            let output = run_clean(&setup.bed, &open, &env, &global, &command, &run, &secrets);
            assert!(
                output.text().contains(WARNING) && output.text().contains("open.key"),
                "kmsdns {command} --format {format} does not warn about a world-readable key file:\n{}",
                output.text()
            );
            let output = run_clean(&setup.bed, &group, &env, &global, &command, &run, &secrets);
            assert!(
                !output.text().contains(WARNING),
                "kmsdns {command}: 0640 is BIND's own mode, not worth a warning:\n{}",
                output.text()
            );
            warned += 1;
        }
    }
    assert!(warned >= 16, "only {warned} commands checked");
}
