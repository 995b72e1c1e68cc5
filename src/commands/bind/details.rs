//! `bind` output: the files generated, written or printed.

use std::path::PathBuf;

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::material::{File, Kind, Made, INDEX_FILE};

/// `bind`: the files generated.
#[derive(Debug, Clone, Serialize)]
pub struct BindDetails {
    pub files: BindFiles,
}

/// The files of `bind`: those written (`--out`), or the material itself.
/// Both are made again, file by file, while the report is written: the
/// material of 100,000 zones is 140 MB, and even the list of their 300,000
/// paths was 80 MB kept.
#[derive(Debug, Clone)]
pub enum BindFiles {
    /// Written into `dir`: each file's path.
    Written { material: Made, dir: PathBuf },
    /// Printed: each file's content.
    Made(Made),
}

impl BindFiles {
    /// Hands each file to `emit`, in the order they were made; stops at the
    /// first error of `emit`.
    pub fn each<E>(&self, mut emit: impl FnMut(BindFile<'_>) -> Result<(), E>) -> Result<(), E> {
        match self {
            BindFiles::Written { material, dir } => {
                material.each(|file| {
                    emit(BindFile {
                        kind: file.kind(),
                        about: file.about(),
                        path: Some(dir.join(file.name())),
                        content: None,
                    })
                })?;
                if !material.wants(Kind::NamedConf) {
                    return Ok(());
                }
                emit(BindFile {
                    kind: Kind::NamedConf,
                    about: "all zones".into(),
                    path: Some(dir.join(INDEX_FILE)),
                    content: None,
                })
            }
            BindFiles::Made(material) => material.each(|file| {
                emit(BindFile {
                    kind: file.kind(),
                    about: file.about(),
                    path: None,
                    content: Some(Content(file)),
                })
            }),
        }
    }
}

impl Serialize for BindFiles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        self.each(|file| seq.serialize_element(&file))?;
        seq.end()
    }
}

/// One generated file: where it was written, or its content when printed.
#[derive(Serialize)]
pub struct BindFile<'m> {
    pub kind: Kind,
    /// The zone, or the KMS host for `.reg` files.
    pub about: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content<'m>>,
}

/// A printed file's content: one string, made while it is serialized
/// ([`Serializer::collect_str`], which serde_json escapes piece by piece
/// as it comes), so that a `.reg` file of 100,000 domains (13 MB) is never
/// one string in memory.
pub struct Content<'m>(File<'m>);

impl Serialize for Content<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}
