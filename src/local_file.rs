//! Reading the local files kmsdns is given: the configuration, TSIG key
//! files, `.reg` and plain publish lists, `named.conf` and its includes,
//! `resolv.conf`.
//!
//! Only regular files are read (symbolic links are followed). A FIFO would
//! block the read until some writer came, a character device such as
//! `/dev/zero` never ends, and a directory or a loop of symbolic links is
//! not a file at all: each gets its own message instead of a hang, gigabytes
//! of memory, or "file not found". What is read is capped ([`Limit`]), so a
//! file that grows while it is read is bounded too.
//!
//! The file is opened with `O_NONBLOCK` and checked again once open: a path
//! swapped for a FIFO between the check and the open cannot block the open
//! either. Errors are [`io::Error`]s whose text says what is wrong without
//! the path: every caller already names the file ("cannot read key file
//! /etc/k.key: it is a FIFO …").

use std::fmt;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// The most kmsdns reads from one kind of file, named in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Largest size, in bytes.
    pub bytes: u64,
    /// The kind of file, as the error names it ("a key file").
    pub file: &'static str,
}

const MIB: u64 = 1 << 20;

impl Limit {
    /// A TSIG key file: `tsig-keygen` writes about 100 bytes.
    pub const KEY_FILE: Limit = Limit {
        bytes: MIB,
        file: "a key file",
    };
    /// The TOML configuration (a 10,000-domain one is about 1 MiB).
    pub const CONFIGURATION: Limit = Limit {
        bytes: 64 * MIB,
        file: "a configuration file",
    };
    /// A `.reg` export, `reg query` output or plain publish list.
    pub const PUBLISH_LIST: Limit = Limit {
        bytes: 64 * MIB,
        file: "a publish-list file",
    };
    /// `resolv.conf`, the system's or `--resolv-conf`.
    pub const RESOLV_CONF: Limit = Limit {
        bytes: 64 * MIB,
        file: "resolv.conf",
    };
}

impl fmt::Display for Limit {
    /// "1 MiB", or the bytes when not a whole number of MiB.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bytes % MIB == 0 {
            write!(f, "{} MiB", self.bytes / MIB)
        } else {
            write!(f, "{} bytes", self.bytes)
        }
    }
}

/// Why a path was not read: the text of the [`io::Error`]s made here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a regular file; `kind` says what it is ("a FIFO (named pipe)"),
    /// `target` where a symbolic link led.
    NotRegular {
        kind: &'static str,
        target: Option<String>,
    },
    /// A symbolic link that leads back to itself.
    SymlinkLoop,
    /// Larger than its limit.
    TooLarge(Limit),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotRegular { kind, target } => {
                match target {
                    Some(target) => write!(f, "it is a symbolic link to {target}, {kind}")?,
                    None => write!(f, "it is {kind}")?,
                }
                write!(f, ", not a regular file")
            }
            Refusal::SymlinkLoop => f.write_str(
                "it is a loop of symbolic links (too many levels of symbolic links), not a file",
            ),
            Refusal::TooLarge(limit) => write!(
                f,
                "it is larger than {limit}, the most {} may be",
                limit.file
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for io::Error {
    fn from(refusal: Refusal) -> io::Error {
        let kind = match refusal {
            Refusal::TooLarge(_) => io::ErrorKind::InvalidData,
            Refusal::NotRegular { .. } | Refusal::SymlinkLoop => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, refusal)
    }
}

/// The [`Refusal`] inside an error made here, for tests and callers that
/// tell them apart.
pub fn refusal(error: &io::Error) -> Option<&Refusal> {
    error.get_ref()?.downcast_ref::<Refusal>()
}

/// Whether something is at `path`: a file of any kind, a directory, or a
/// symbolic link (even a dangling or looping one). Where a list of
/// candidates is searched, finding one this way and then failing to
/// [`open`] it says why, where `is_file` would say "not found".
pub fn is_present(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Opens `path` for reading if it is a regular file (after following
/// symbolic links), without blocking.
pub fn open(path: &Path) -> io::Result<File> {
    // Checked before opening: opening a device can have effects (a tape
    // rewinds), and the message can say what the path is.
    let metadata = fs::metadata(path).map_err(loop_or)?;
    check_regular(path, &metadata)?;
    let file = open_nonblocking(path)?;
    // Checked again on what was opened: the path may have changed since.
    check_regular(path, &file.metadata()?)?;
    Ok(file)
}

/// Reads the regular file at `path`, at most `limit` bytes.
pub fn read(path: &Path, limit: Limit) -> io::Result<Vec<u8>> {
    let file = open(path)?;
    let size = file.metadata()?.len();
    if size > limit.bytes {
        return Err(Refusal::TooLarge(limit).into());
    }
    // Room for the whole file and the byte that tells it grew: growing
    // by doubling left up to half of a large configuration unused.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    // One byte past the limit tells a file that grew while read.
    file.take(limit.bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(Refusal::TooLarge(limit).into());
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text (the error `std::fs::read_to_string` gives
/// otherwise).
pub fn read_to_string(path: &Path, limit: Limit) -> io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO for reading waits for a writer without it.
    // O_NOCTTY: a terminal swapped in must not become our controlling one.
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// ELOOP from following symbolic links gets its own message.
fn loop_or(error: io::Error) -> io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return Refusal::SymlinkLoop.into();
    }
    error
}

fn check_regular(path: &Path, metadata: &Metadata) -> io::Result<()> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok(());
    }
    let kind = if file_type.is_dir() {
        "a directory"
    } else {
        special_kind(&file_type)
    };
    let target = fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_symlink())
        .map(|_| {
            fs::canonicalize(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "something".to_string())
        });
    Err(Refusal::NotRegular { kind, target }.into())
}

#[cfg(unix)]
fn special_kind(file_type: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &fs::FileType) -> &'static str {
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn refused(result: io::Result<Vec<u8>>) -> Refusal {
        let error = result.expect_err("refused");
        refusal(&error)
            .cloned()
            .unwrap_or_else(|| panic!("not a refusal: {error}"))
    }

    #[test]
    fn reads_a_regular_file_and_one_behind_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.key");
        fs::write(&file, "key").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read(&file, Limit::KEY_FILE).unwrap(), b"key");
        assert_eq!(read_to_string(&link, Limit::KEY_FILE).unwrap(), "key");
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other input.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let refusal = refused(read(&fifo, Limit::KEY_FILE));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(matches!(refusal, Refusal::NotRegular { target: None, .. }));
        assert!(refusal.to_string().contains("FIFO"), "{refusal}");
        // The race the open guards against: a FIFO opened non-blocking
        // does not wait for a writer, and is then refused.
        let opened = open_nonblocking(&fifo).expect("opens at once");
        assert!(check_regular(&fifo, &opened.metadata().unwrap()).is_err());
    }

    #[test]
    fn devices_directories_sockets_and_loops_each_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let zero = refused(read(Path::new("/dev/zero"), Limit::CONFIGURATION));
        assert_eq!(
            zero.to_string(),
            "it is a character device, not a regular file"
        );
        let directory = refused(read(dir.path(), Limit::CONFIGURATION));
        assert_eq!(
            directory.to_string(),
            "it is a directory, not a regular file"
        );
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(refused(read(&socket, Limit::CONFIGURATION))
            .to_string()
            .contains("a socket"));

        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert_eq!(
            refused(read(&a, Limit::CONFIGURATION)),
            Refusal::SymlinkLoop
        );
        assert!(is_present(&a));

        let to_zero = dir.path().join("zero.key");
        std::os::unix::fs::symlink("/dev/zero", &to_zero).unwrap();
        assert_eq!(
            refused(read(&to_zero, Limit::KEY_FILE)).to_string(),
            "it is a symbolic link to /dev/zero, a character device, not a regular file"
        );
    }

    #[test]
    fn a_missing_file_is_the_system_s_error() {
        let error = read(Path::new("/nonexistent/k.key"), Limit::KEY_FILE).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(!is_present(Path::new("/nonexistent/k.key")));
    }

    #[test]
    fn files_beyond_their_limit_are_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.key");
        // Sparse: set_len costs no disk.
        File::create(&big).unwrap().set_len(MIB + 1).unwrap();
        assert_eq!(
            refused(read(&big, Limit::KEY_FILE)).to_string(),
            "it is larger than 1 MiB, the most a key file may be"
        );
        File::create(&big).unwrap().set_len(MIB).unwrap();
        assert_eq!(read(&big, Limit::KEY_FILE).unwrap().len() as u64, MIB);
        File::create(&big).unwrap().set_len(64 * MIB + 1).unwrap();
        assert_eq!(
            refused(read(&big, Limit::PUBLISH_LIST)).to_string(),
            "it is larger than 64 MiB, the most a publish-list file may be"
        );
    }
}
