//! `bind` output: the files generated, written or printed.

use serde::Serialize;

/// `bind`: the files generated.
#[derive(Debug, Clone, Serialize)]
pub struct BindDetails {
    pub files: BindFiles,
}

/// The files of `bind`: those written (`--out`), or the material itself,
/// made while the document is written.
#[derive(Debug, Clone)]
pub enum BindFiles {
    Written(Vec<BindFile>),
    Made(super::material::Made),
}

impl Serialize for BindFiles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self {
            BindFiles::Written(files) => files.serialize(serializer),
            BindFiles::Made(made) => {
                let mut seq = serializer.serialize_seq(None)?;
                made.each(|file| {
                    seq.serialize_element(&BindFile {
                        kind: file.kind,
                        about: file.about,
                        path: None,
                        content: Some(file.content),
                    })
                })?;
                seq.end()
            }
        }
    }
}

/// One generated file: where it was written, or its content when printed.
#[derive(Debug, Clone, Serialize)]
pub struct BindFile {
    pub kind: super::material::Kind,
    /// The zone, or the KMS host for `.reg` files.
    pub about: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}
