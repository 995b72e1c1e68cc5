//! The operations the scale benchmark measures, and `--only`'s list of
//! them: a full run of 100,000 domains takes about an hour, so re-measuring
//! the one or two a change touched must not need the rest (issue 20).

/// One measured operation, in the order of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Bind,
    BindOut,
    Updates,
    Publish,
    PublishAgain,
    Remove,
    Check,
    Replication,
    AuditNoUpdates,
    Audit,
}

impl Operation {
    /// Every operation, in the order of the table.
    pub const ALL: [Operation; 10] = [
        Operation::Bind,
        Operation::BindOut,
        Operation::Updates,
        Operation::Publish,
        Operation::PublishAgain,
        Operation::Remove,
        Operation::Check,
        Operation::Replication,
        Operation::AuditNoUpdates,
        Operation::Audit,
    ];

    /// Its name for `--only`: the table's operation, without the
    /// size-dependent parts.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Bind => "bind",
            Operation::BindOut => "bind-out",
            Operation::Updates => "updates",
            Operation::Publish => "publish",
            Operation::PublishAgain => "publish-again",
            Operation::Remove => "remove",
            Operation::Check => "check",
            Operation::Replication => "replication",
            Operation::AuditNoUpdates => "audit-no-updates",
            Operation::Audit => "audit",
        }
    }

    /// Reads what is published, after the secondaries have transferred it.
    pub fn reads_published(self) -> bool {
        matches!(
            self,
            Operation::PublishAgain
                | Operation::Check
                | Operation::Replication
                | Operation::AuditNoUpdates
                | Operation::Audit
        )
    }

    /// `--only`'s value: names separated by commas, in any order, each once
    /// or more; the operations in the table's order.
    pub fn parse_list(text: &str) -> Result<Vec<Operation>, String> {
        let mut chosen = Vec::new();
        for name in text.split(',').map(str::trim) {
            let operation = Operation::ALL
                .into_iter()
                .find(|operation| operation.name() == name)
                .ok_or_else(|| {
                    format!(
                        "--only: unknown operation {name:?}; the operations are {}",
                        Operation::names()
                    )
                })?;
            chosen.push(operation);
        }
        chosen.sort_unstable();
        chosen.dedup();
        Ok(chosen)
    }

    /// Every name, comma-separated, for messages and `--help`.
    pub fn names() -> String {
        Operation::ALL.map(Operation::name).join(", ")
    }
}
