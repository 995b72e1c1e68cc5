//! Local input files that are not regular files (issue 17): `/dev/zero`
//! and a FIFO as key file, publish list, configuration or named.conf, and
//! includes of a device, a directory or a loop of symbolic links. Each
//! ends at once with exit 3 and a message that says what the file is;
//! none hangs or reads without end.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::run::{Kmsdns, Run};

/// Long enough that only a hang reaches it, on a loaded machine: each of
/// these runs ends in milliseconds, while a FIFO opened for reading
/// without O_NONBLOCK blocks forever and `/dev/zero` read to its end
/// grows by gigabytes in seconds. The timeout kills kmsdns and fails the
/// test.
const NO_HANG: Duration = Duration::from_secs(10);

fn run(dir: &Path, args: &[&str]) -> Run {
    let run = Kmsdns::new().cwd(dir).timeout(NO_HANG).args(args).run();
    assert!(run.took < NO_HANG, "{run}");
    run
}

/// A FIFO with no writer in `dir`.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
    path
}

fn assert_refused(run: &Run, what: &str) {
    assert_eq!(run.status, 3, "{run}");
    assert!(
        run.stderr.contains(&format!("{what}, not a regular file")),
        "{run}"
    );
}

#[test]
fn dev_zero_and_a_fifo_as_key_file_publish_list_or_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = fifo(dir.path());
    for (input, what) in [
        (Path::new("/dev/zero"), "it is a character device"),
        (fifo.as_path(), "it is a FIFO (named pipe)"),
    ] {
        let input = input.to_str().expect("UTF-8 path");
        let key = dir.path().join("key.toml");
        std::fs::write(
            &key,
            format!("publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n[tsig-key.k]\nfile = \"{input}\"\n"),
        )
        .expect("write the configuration");
        let run_key = run(dir.path(), &["-c", "key.toml", "bind"]);
        assert_refused(&run_key, what);
        assert!(
            run_key
                .stderr
                .contains(&format!("cannot read key file {input}")),
            "{run_key}"
        );

        std::fs::write(
            dir.path().join("reg.toml"),
            format!("publish-list-reg = \"{input}\"\n[[host]]\nname = \"kms1.corp.example\"\n"),
        )
        .expect("write the configuration");
        assert_refused(&run(dir.path(), &["-c", "reg.toml", "bind"]), what);
        let bind_reg = run(
            dir.path(),
            &[
                "bind",
                "--publish-list-reg",
                input,
                "--host",
                "kms1.corp.example",
            ],
        );
        assert_refused(&bind_reg, what);

        assert_refused(&run(dir.path(), &["-c", input, "bind"]), what);

        let named_conf = run(
            dir.path(),
            &["updates", "--named-conf", input, "--domain", "corp.example"],
        );
        assert_refused(&named_conf, what);
    }
}

#[test]
fn includes_of_what_is_not_a_file_say_what_it_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("zones.d")).expect("a directory");
    std::os::unix::fs::symlink("loop-b", dir.path().join("loop-a")).expect("symlink");
    std::os::unix::fs::symlink("loop-a", dir.path().join("loop-b")).expect("symlink");
    fifo(dir.path());
    for (include, what) in [
        ("/dev/zero", "it is a character device, not a regular file"),
        ("zones.d", "it is a directory, not a regular file"),
        ("fifo", "it is a FIFO (named pipe), not a regular file"),
        ("loop-a", "it is a loop of symbolic links"),
    ] {
        std::fs::write(
            dir.path().join("named.conf"),
            format!("include \"{include}\";\n"),
        )
        .expect("write named.conf");
        let run = run(
            dir.path(),
            &[
                "updates",
                "--named-conf",
                "named.conf",
                "--domain",
                "corp.example",
            ],
        );
        assert_eq!(run.status, 3, "{run}");
        assert!(
            run.stderr
                .contains(&format!("named.conf:1:1: include \"{include}\"")),
            "{run}"
        );
        assert!(run.stderr.contains(what), "{run}");
        assert!(!run.stderr.contains("not found"), "{run}");
    }
}
