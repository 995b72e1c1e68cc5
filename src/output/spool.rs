//! The unnamed temporary files in which a run window by window keeps each
//! window's rendered output until the end (removed by the system when the
//! run ends, also on a crash).
//!
//! A spool never loses what it was given: what its file does not take (a
//! full disk, a file size limit) stays in memory, after what the file
//! holds, and [`Spool::failure`] says why. The writer then stops the run
//! after the window it was writing, so memory holds at most that window,
//! and still writes the whole output of the windows done: after a
//! `publish` window's UPDATEs, what was changed is always said.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};

use crate::report::{Finding, FindingId, Severity};

/// What a spool holds in memory before writing it to its file, as
/// `BufWriter`'s buffer.
const BUFFER: usize = 8 * 1024;

/// An unnamed temporary file written now and read back at the end.
pub(super) struct Spool {
    /// `None` only when no file could be made mid-run
    /// ([`Spool::during_run`]); `failure` then says why.
    file: Option<File>,
    /// What is not in the file: written at [`BUFFER`], or kept for good
    /// once the file failed.
    pending: Vec<u8>,
    /// Why the file took no more.
    failure: Option<io::Error>,
}

impl Spool {
    /// A spool made before the run changes anything: no temporary file
    /// is an error, said before any window.
    pub(super) fn new() -> io::Result<Self> {
        Ok(Spool {
            file: Some(tempfile::tempfile()?),
            pending: Vec::new(),
            failure: None,
        })
    }

    /// A spool first needed mid-run (a JSON array or a Prometheus family
    /// that a window is the first to have), when an error would lose the
    /// output of the windows done: without a temporary file it holds what
    /// it is given in memory and says why, which stops the run after
    /// this window, as a file that takes no more does.
    pub(super) fn during_run() -> Self {
        let (file, failure) = match tempfile::tempfile() {
            Ok(file) => (Some(file), None),
            Err(e) => (None, Some(e)),
        };
        Spool {
            file,
            pending: Vec::new(),
            failure,
        }
    }

    /// A spool into `file`: the tests' stand-in for a full disk.
    #[cfg(test)]
    pub(super) fn on(file: File) -> Self {
        Spool {
            file: Some(file),
            pending: Vec::new(),
            failure: None,
        }
    }

    /// Why the file took no more, since when the spool holds what it is
    /// given in memory.
    pub(super) fn failure(&self) -> Option<&io::Error> {
        self.failure.as_ref()
    }

    /// One value as a line of JSON.
    pub(super) fn push(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut *self, value)?;
        self.write_all(b"\n")
    }

    /// Every line written, from the start.
    pub(super) fn lines(&mut self) -> io::Result<io::Lines<BufReader<impl Read + '_>>> {
        Ok(BufReader::new(self.reader()?).lines())
    }

    /// Every value written, from the start.
    pub(super) fn values<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> io::Result<impl Iterator<Item = io::Result<T>> + '_> {
        Ok(self.lines()?.map(|line| {
            serde_json::from_str(&line?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }))
    }

    /// Everything written, to read from the start: the file, then what
    /// it did not take.
    pub(super) fn reader(&mut self) -> io::Result<impl Read + '_> {
        self.drain();
        let file: Box<dyn Read + '_> = match &mut self.file {
            Some(file) => {
                file.rewind()?;
                Box::new(&*file)
            }
            None => Box::new(io::empty()),
        };
        Ok(file.chain(&self.pending[..]))
    }

    /// Copies everything written to `out`.
    pub(super) fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        io::copy(&mut self.reader()?, out)?;
        Ok(())
    }

    /// Writes what is pending to the file, as far as it takes it; after
    /// its first failure, nothing more.
    fn drain(&mut self) {
        let Some(file) = &mut self.file else {
            return;
        };
        if self.failure.is_some() {
            return;
        }
        let mut written = 0;
        while written < self.pending.len() {
            match file.write(&self.pending[written..]) {
                Ok(0) => {
                    self.failure = Some(io::ErrorKind::WriteZero.into());
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failure = Some(e);
                    break;
                }
            }
        }
        self.pending.drain(..written);
    }
}

/// Why `command`'s run stopped after a spool's file took no more
/// (`error`): a run that reads and one that changes both did neither to
/// the domains after the windows written.
pub(super) fn run_stopped(command: &str, error: &str) -> Finding {
    let message = format!(
        "{command} stopped: cannot keep the output: {error}; the domains not in this report were neither read nor changed"
    );
    Finding::new(FindingId::RunStopped, Severity::Critical, message)
}

/// Never fails: what the file does not take stays in memory.
impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= BUFFER {
            self.drain();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<String> {
        (0..5000).map(|n| format!("line {n}")).collect()
    }

    #[test]
    fn a_spool_gives_back_what_it_was_given() {
        let mut spool = Spool::new().unwrap();
        for line in lines() {
            writeln!(spool, "{line}").unwrap();
        }
        let read: Vec<String> = spool.lines().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, lines());
        assert!(spool.failure().is_none());
    }

    #[test]
    fn what_the_file_does_not_take_is_kept_in_memory_and_the_failure_said() {
        // A file open only for reading takes no write, as a full disk.
        let named = tempfile::NamedTempFile::new().unwrap();
        let mut spool = Spool::on(File::open(named.path()).unwrap());
        for line in lines() {
            writeln!(spool, "{line}").unwrap();
        }
        spool.flush().unwrap();
        assert!(spool.failure().is_some());
        let read: Vec<String> = spool.lines().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, lines());
    }

    #[test]
    fn a_spool_needed_mid_run_without_a_temporary_file_keeps_all_in_memory() {
        let mut spool = Spool {
            file: None,
            pending: Vec::new(),
            failure: Some(io::ErrorKind::NotFound.into()),
        };
        for line in lines() {
            writeln!(spool, "{line}").unwrap();
        }
        assert!(spool.failure().is_some());
        let read: Vec<String> = spool.lines().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, lines());
    }
}
