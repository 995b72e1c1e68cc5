//! The planner: what `publish` and `remove` would change in one domain's
//! `_vlmcs._tcp` RRset, computed from what the primary serves and what the
//! configuration wants. Pure; `plan`, `publish` and `remove` share it.
//!
//! Safety rule (DESIGN §7): a record whose target is not one of the
//! configuration's hosts is never deleted or changed; it shows as
//! [`Change::Foreign`]. The one exception is asked for by name: `--prune`
//! with `complete = true` ([`prune`]) deletes the records of targets the
//! configuration does not know at all, never those of a `managed = false`
//! host.

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::dns::{SrvRecord, SrvRrset};

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `+` a record to add.
    Add(SrvRecord),
    /// `-` a record of ours to delete.
    Delete(SrvRecord),
    /// `~` a record of ours whose port, priority or weight changes.
    Modify { from: SrvRecord, to: SrvRecord },
    /// A record of ours already as configured.
    Keep(SrvRecord),
    /// `=` another host's record, left alone.
    Foreign(SrvRecord),
    /// `- prune`: a record whose target is not a configured host, deleted
    /// (`--prune` with `complete = true`).
    Prune(SrvRecord),
}

impl Change {
    /// Whether applying the plan has to do something for this line.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Change::Add(_) | Change::Delete(_) | Change::Modify { .. } | Change::Prune(_)
        )
    }
}

/// A TTL difference: TTL belongs to the whole RRset, other hosts' records included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TtlChange {
    /// The RRset's TTL (the lowest, when its records disagree).
    pub from: u32,
    pub to: u32,
    /// Whether the plan applies it (`--set-ttl`); otherwise it is only shown.
    pub applied: bool,
    /// The highest TTL, when the records carry different ones (RFC 2181
    /// §5.2 forbids it): such an RRset is never in sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixed: Option<u32>,
}

/// The plan for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// The TTL new records get: the RRset's own unless `--set-ttl`.
    pub ttl: u32,
    pub ttl_change: Option<TtlChange>,
}

impl Plan {
    /// Whether applying the plan would send an update.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::is_change) || self.ttl_change.is_some_and(|t| t.applied)
    }

    /// Whether the plan changes the RRset's TTL (`--set-ttl`).
    pub fn sets_ttl(&self) -> bool {
        self.ttl_change.is_some_and(|t| t.applied)
    }

    /// Records to delete, each by its exact RDATA. With an applied TTL
    /// change, our kept records too: they are added back with the new TTL
    /// (see [`Plan::adds`]).
    pub fn deletes(&self) -> Vec<&SrvRecord> {
        let sets_ttl = self.sets_ttl();
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Delete(r) | Change::Modify { from: r, .. } | Change::Prune(r) => Some(r),
                Change::Keep(r) if sets_ttl => Some(r),
                _ => None,
            })
            .collect()
    }

    /// Records to add, with the plan's TTL. With an applied TTL change,
    /// our kept records are deleted and added back in the same UPDATE: a
    /// record added with another TTL gives the whole RRset that TTL (BIND,
    /// PowerDNS, and Knot, which ignores the re-add of a record it already
    /// holds, whatever its TTL). Other hosts' records are never re-added.
    pub fn adds(&self) -> Vec<&SrvRecord> {
        let sets_ttl = self.sets_ttl();
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Add(r) | Change::Modify { to: r, .. } => Some(r),
                Change::Keep(r) if sets_ttl => Some(r),
                _ => None,
            })
            .collect()
    }

    /// How many records remain once the plan is applied.
    pub fn remaining(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    Change::Add(_) | Change::Modify { .. } | Change::Keep(_) | Change::Foreign(_)
                )
            })
            .count()
    }
}

/// What `publish` would do: make the records of our hosts exactly the
/// configured ones, leaving every other record alone.
pub fn publish(
    current: &SrvRrset,
    wanted: &[SrvRecord],
    ttl: u32,
    set_ttl: bool,
    owns: impl Fn(&Name) -> bool,
) -> Plan {
    let mut changes = Vec::new();
    let mut unmatched: Vec<&SrvRecord> = Vec::new();
    for record in &current.records {
        if !owns(&record.target) {
            changes.push(Change::Foreign(record.clone()));
        } else if wanted.contains(record) {
            changes.push(Change::Keep(record.clone()));
        } else {
            unmatched.push(record);
        }
    }
    for record in wanted {
        if current.records.contains(record) {
            continue;
        }
        // A record of the same host with other values is a modification.
        match unmatched.iter().position(|r| r.target == record.target) {
            Some(i) => {
                let from = unmatched.remove(i).clone();
                changes.push(Change::Modify {
                    from,
                    to: record.clone(),
                });
            }
            None => changes.push(Change::Add(record.clone())),
        }
    }
    changes.extend(unmatched.into_iter().cloned().map(Change::Delete));
    finish(current, changes, ttl, set_ttl)
}

/// `--prune`: the other hosts' records of `plan` whose target is not a
/// configured host at all (`unknown`) become deletions, in the same plan,
/// so in the same atomic UPDATE under the same prerequisite. A record that
/// is merely not ours (a `managed = false` host) stays.
pub fn prune(mut plan: Plan, unknown: impl Fn(&Name) -> bool) -> Plan {
    for change in &mut plan.changes {
        if let Change::Foreign(record) = change {
            if unknown(&record.target) {
                *change = Change::Prune(record.clone());
            }
        }
    }
    plan
}

/// What `remove` would do: delete our records (only those of `only_host`
/// when given), leaving every other record alone.
pub fn remove(current: &SrvRrset, owns: impl Fn(&Name) -> bool, only_host: Option<&Name>) -> Plan {
    let changes = current
        .records
        .iter()
        .map(|record| {
            let ours = owns(&record.target) && only_host.is_none_or(|h| *h == record.target);
            if ours {
                Change::Delete(record.clone())
            } else if owns(&record.target) {
                Change::Keep(record.clone())
            } else {
                Change::Foreign(record.clone())
            }
        })
        .collect();
    let ttl = current.ttl.unwrap_or_default();
    finish(current, changes, ttl, false)
}

/// The plan's TTL: the RRset's own, unless `set_ttl` and a record of ours
/// can carry `wanted_ttl` in (one added, changed or kept: only our records
/// are ever deleted and added back). Records that disagree on their TTL
/// are always a difference.
fn finish(current: &SrvRrset, changes: Vec<Change>, wanted_ttl: u32, set_ttl: bool) -> Plan {
    let highest = current.ttls.iter().copied().max();
    let mixed = current.mixed_ttls();
    match current.ttl {
        Some(existing)
            if (existing != wanted_ttl || current.ttls.iter().any(|t| *t != wanted_ttl))
                && !current.records.is_empty() =>
        {
            let ours = changes
                .iter()
                .any(|c| matches!(c, Change::Add(_) | Change::Modify { .. } | Change::Keep(_)));
            let applied = set_ttl && ours;
            Plan {
                changes,
                ttl: if applied { wanted_ttl } else { existing },
                ttl_change: Some(TtlChange {
                    from: existing,
                    to: wanted_ttl,
                    applied,
                    mixed: if mixed { highest } else { None },
                }),
            }
        }
        _ => Plan {
            changes,
            ttl: wanted_ttl,
            ttl_change: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: Name::from_ascii(target).unwrap(),
        }
    }

    fn ours(name: &Name) -> bool {
        name.to_ascii().starts_with("kms")
    }

    #[test]
    fn empty_rrset_gets_every_record_with_the_configured_ttl() {
        let wanted = [srv(0, 0, 1688, "kms1.a."), srv(0, 0, 1688, "kms2.a.")];
        let plan = publish(&SrvRrset::default(), &wanted, 3600, false, ours);
        assert_eq!(plan.adds().len(), 2);
        assert!(plan.deletes().is_empty());
        assert_eq!(plan.ttl, 3600);
        assert!(plan.ttl_change.is_none());
    }

    #[test]
    fn prune_deletes_only_unknown_targets_and_keeps_ours() {
        let current = SrvRrset {
            ttl: Some(3600),
            ttls: vec![3600],
            records: vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "stale.a."),
                srv(0, 0, 1688, "other-team.a."),
            ],
        };
        let plan = publish(&current, &[srv(0, 0, 1688, "kms1.a.")], 3600, false, ours);
        assert!(!plan.has_changes());
        let plan = prune(plan, |name| name.to_ascii() == "stale.a.");
        assert!(plan.has_changes());
        assert_eq!(plan.deletes(), [&srv(0, 0, 1688, "stale.a.")]);
        assert!(plan.adds().is_empty());
        assert!(plan
            .changes
            .contains(&Change::Foreign(srv(0, 0, 1688, "other-team.a."))));
        assert_eq!(plan.remaining(), 2);
    }

    #[test]
    fn in_sync_has_no_changes_and_foreign_records_stay() {
        let current = SrvRrset {
            ttl: Some(3600),
            ttls: vec![3600],
            records: vec![srv(0, 0, 1688, "kms1.a."), srv(0, 0, 1688, "other.a.")],
        };
        let plan = publish(&current, &[srv(0, 0, 1688, "kms1.a.")], 3600, false, ours);
        assert!(!plan.has_changes());
        assert!(plan
            .changes
            .contains(&Change::Foreign(srv(0, 0, 1688, "other.a."))));
    }

    #[test]
    fn changed_values_are_a_modification_and_stale_ones_deleted() {
        let current = SrvRrset {
            ttl: Some(600),
            ttls: vec![600],
            records: vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "kms3.a."),
                srv(5, 5, 1688, "rogue.a."),
            ],
        };
        let plan = publish(&current, &[srv(10, 75, 1688, "kms1.a.")], 600, false, ours);
        assert_eq!(
            plan.changes,
            vec![
                Change::Foreign(srv(5, 5, 1688, "rogue.a.")),
                Change::Modify {
                    from: srv(0, 0, 1688, "kms1.a."),
                    to: srv(10, 75, 1688, "kms1.a.")
                },
                Change::Delete(srv(0, 0, 1688, "kms3.a.")),
            ]
        );
        assert_eq!(plan.remaining(), 2);
    }

    #[test]
    fn ttl_difference_is_shown_and_only_applied_when_asked() {
        let current = SrvRrset {
            ttl: Some(600),
            ttls: vec![600],
            records: vec![srv(0, 0, 1688, "other.a.")],
        };
        let wanted = [srv(0, 0, 1688, "kms1.a.")];
        let plan = publish(&current, &wanted, 3600, false, ours);
        assert_eq!(plan.ttl, 600, "adds keep the RRset's TTL");
        assert_eq!(
            plan.ttl_change,
            Some(TtlChange {
                from: 600,
                to: 3600,
                applied: false,
                mixed: None,
            })
        );
        let plan = publish(&current, &wanted, 3600, true, ours);
        assert_eq!(plan.ttl, 3600);

        // Only a TTL change: one record is re-added with the new TTL.
        let current = SrvRrset {
            ttl: Some(600),
            ttls: vec![600],
            records: vec![srv(0, 0, 1688, "kms1.a.")],
        };
        let plan = publish(&current, &wanted, 3600, false, ours);
        assert!(!plan.has_changes());
        let plan = publish(&current, &wanted, 3600, true, ours);
        assert!(plan.has_changes());
        // Deleted and added back in one UPDATE: Knot ignores a bare re-add.
        assert_eq!(plan.deletes(), vec![&wanted[0]]);
        assert_eq!(plan.adds(), vec![&wanted[0]]);

        // Only other hosts' records: nothing of ours to carry the TTL in.
        let current = SrvRrset {
            ttl: Some(600),
            records: vec![srv(0, 0, 1688, "other.a.")],
            ttls: vec![600],
        };
        let plan = publish(&current, &[], 3600, true, ours);
        assert!(!plan.has_changes(), "{plan:?}");
        assert!(plan.deletes().is_empty() && plan.adds().is_empty());
    }

    #[test]
    fn records_with_different_ttls_are_never_in_sync() {
        let current = SrvRrset {
            ttl: Some(600),
            records: vec![srv(0, 0, 1688, "kms1.a."), srv(0, 0, 1688, "other.a.")],
            ttls: vec![600, 3600],
        };
        let wanted = [srv(0, 0, 1688, "kms1.a.")];
        for configured in [600, 3600] {
            let plan = publish(&current, &wanted, configured, false, ours);
            let change = plan.ttl_change.expect("a TTL difference");
            assert_eq!(change.mixed, Some(3600), "{plan:?}");
            assert!(!change.applied);
            let plan = publish(&current, &wanted, configured, true, ours);
            assert!(plan.sets_ttl());
            assert_eq!(plan.ttl, configured);
            assert_eq!(plan.deletes(), vec![&wanted[0]]);
            assert_eq!(plan.adds(), vec![&wanted[0]]);
        }
    }

    #[test]
    fn remove_deletes_only_ours_and_counts_what_remains() {
        let current = SrvRrset {
            ttl: Some(3600),
            ttls: vec![3600],
            records: vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "kms2.a."),
                srv(0, 0, 1688, "other.a."),
            ],
        };
        let plan = remove(&current, ours, None);
        assert_eq!(plan.deletes().len(), 2);
        assert_eq!(plan.remaining(), 1);
        let kms2 = Name::from_ascii("kms2.a.").unwrap();
        let plan = remove(&current, ours, Some(&kms2));
        assert_eq!(plan.deletes(), vec![&srv(0, 0, 1688, "kms2.a.")]);
        assert_eq!(plan.remaining(), 2);
    }
}
