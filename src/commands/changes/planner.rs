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
//!
//! Who keeps a TTL ([`TtlScope`]) decides what `--set-ttl` can change:
//! RFC 2136 servers keep one per RRset, so re-adding our records gives
//! other hosts' records the new TTL too; Active Directory keeps one per
//! record, so other hosts' records keep theirs and only ours are compared.

use hickory_proto::rr::Name;
use serde::Serialize;

pub use crate::dns::TtlScope;
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

/// A TTL difference: on most servers TTL belongs to the whole RRset,
/// other hosts' records included; on AD to each record ([`TtlScope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TtlChange {
    /// The TTL compared: our records' (the lowest) where TTLs are per
    /// record, else the RRset's (the lowest, when its records disagree).
    pub from: u32,
    pub to: u32,
    /// Whether the plan applies it (`--set-ttl`); otherwise it is only shown.
    pub applied: bool,
    /// The highest TTL, when the records carry different ones and that is
    /// a difference (RFC 2181 §5.2 forbids it outside AD): such an RRset is
    /// never in sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixed: Option<u32>,
    /// Which records the new TTL reaches.
    pub scope: TtlScope,
}

/// The plan for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// The TTL new records get: the RRset's own unless `--set-ttl` or
    /// TTLs are per record.
    pub ttl: u32,
    pub ttl_change: Option<TtlChange>,
    /// The RRset as read, each record with its own TTL, for the plan's
    /// lines.
    pub read: SrvRrset,
    /// What the server keeps a TTL for.
    pub scope: TtlScope,
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
    /// holds, whatever its TTL), or itself only (AD). Other hosts' records
    /// are never re-added.
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
/// configured ones, with the TTL `ttl` (`set_ttl`: also those we keep),
/// leaving every other record alone, on a server keeping TTLs per `scope`.
pub fn publish(
    current: &SrvRrset,
    wanted: &[SrvRecord],
    (ttl, set_ttl): (u32, bool),
    scope: TtlScope,
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
    finish(current, changes, (ttl, set_ttl), scope)
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
    // A removal adds nothing: no TTL to compare.
    Plan {
        changes,
        ttl: current.ttl.unwrap_or_default(),
        ttl_change: None,
        read: current.clone(),
        scope: TtlScope::Unknown,
    }
}

/// The plan's TTL. Where TTLs are per record ([`TtlScope::Record`]) only
/// our records that stay are compared, and added ones get `wanted_ttl`:
/// other hosts' records keep theirs whatever we add. Elsewhere every
/// record is compared (records that disagree are always a difference),
/// and adds keep the RRset's TTL unless `set_ttl`, since any add sets the
/// whole RRset's. `set_ttl` applies only when a record of ours can carry
/// `wanted_ttl` in (one added, changed or kept: only our records are ever
/// deleted and added back).
fn finish(
    current: &SrvRrset,
    changes: Vec<Change>,
    (wanted_ttl, set_ttl): (u32, bool),
    scope: TtlScope,
) -> Plan {
    let staying: Vec<u32> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Keep(r) | Change::Modify { from: r, .. } => current.ttl_of(r),
            _ => None,
        })
        .collect();
    let (compared, existing) = match scope {
        TtlScope::Record => {
            let lowest = staying.iter().copied().min();
            (staying, lowest)
        }
        TtlScope::Rrset | TtlScope::Unknown => (current.ttls.clone(), current.ttl),
    };
    let plan = |ttl, ttl_change| Plan {
        changes: changes.clone(),
        ttl,
        ttl_change,
        read: current.clone(),
        scope,
    };
    match existing {
        Some(existing) if compared.iter().any(|t| *t != wanted_ttl) => {
            let ours = changes
                .iter()
                .any(|c| matches!(c, Change::Add(_) | Change::Modify { .. } | Change::Keep(_)));
            let applied = set_ttl && ours;
            let mixed = scope != TtlScope::Record && current.mixed_ttls();
            plan(
                if applied { wanted_ttl } else { existing },
                Some(TtlChange {
                    from: existing,
                    to: wanted_ttl,
                    applied,
                    mixed: if mixed {
                        current.ttls.last().copied()
                    } else {
                        None
                    },
                    scope,
                }),
            )
        }
        // No TTL differs, the RRset is empty, or nothing of ours stays on
        // AD (whatever other hosts' records carry): adds get the
        // configured TTL.
        _ => plan(wanted_ttl, None),
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

    /// An RRset whose records all carry `ttl`.
    fn rrset(ttl: u32, records: Vec<SrvRecord>) -> SrvRrset {
        SrvRrset::served(records.into_iter().map(|r| (r, ttl)).collect())
    }

    fn ours(name: &Name) -> bool {
        name.to_ascii().starts_with("kms")
    }

    /// The publish plan on a server keeping one TTL per RRset.
    fn per_rrset(current: &SrvRrset, wanted: &[SrvRecord], ttl: (u32, bool)) -> Plan {
        publish(current, wanted, ttl, TtlScope::Rrset, ours)
    }

    #[test]
    fn empty_rrset_gets_every_record_with_the_configured_ttl() {
        let wanted = [srv(0, 0, 1688, "kms1.a."), srv(0, 0, 1688, "kms2.a.")];
        let plan = per_rrset(&SrvRrset::default(), &wanted, (3600, false));
        assert_eq!(plan.adds().len(), 2);
        assert!(plan.deletes().is_empty());
        assert_eq!(plan.ttl, 3600);
        assert!(plan.ttl_change.is_none());
    }

    #[test]
    fn prune_deletes_only_unknown_targets_and_keeps_ours() {
        let current = rrset(
            3600,
            vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "stale.a."),
                srv(0, 0, 1688, "other-team.a."),
            ],
        );
        let plan = per_rrset(&current, &[srv(0, 0, 1688, "kms1.a.")], (3600, false));
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
        let current = rrset(
            3600,
            vec![srv(0, 0, 1688, "kms1.a."), srv(0, 0, 1688, "other.a.")],
        );
        let plan = per_rrset(&current, &[srv(0, 0, 1688, "kms1.a.")], (3600, false));
        assert!(!plan.has_changes());
        assert!(plan
            .changes
            .contains(&Change::Foreign(srv(0, 0, 1688, "other.a."))));
    }

    #[test]
    fn changed_values_are_a_modification_and_stale_ones_deleted() {
        let current = rrset(
            600,
            vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "kms3.a."),
                srv(5, 5, 1688, "rogue.a."),
            ],
        );
        let plan = per_rrset(&current, &[srv(10, 75, 1688, "kms1.a.")], (600, false));
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
        let current = rrset(600, vec![srv(0, 0, 1688, "other.a.")]);
        let wanted = [srv(0, 0, 1688, "kms1.a.")];
        let plan = per_rrset(&current, &wanted, (3600, false));
        assert_eq!(plan.ttl, 600, "adds keep the RRset's TTL");
        assert_eq!(
            plan.ttl_change,
            Some(TtlChange {
                from: 600,
                to: 3600,
                applied: false,
                mixed: None,
                scope: TtlScope::Rrset,
            })
        );
        let plan = per_rrset(&current, &wanted, (3600, true));
        assert_eq!(plan.ttl, 3600);

        // Only a TTL change: one record is re-added with the new TTL.
        let current = rrset(600, vec![srv(0, 0, 1688, "kms1.a.")]);
        let plan = per_rrset(&current, &wanted, (3600, false));
        assert!(!plan.has_changes());
        let plan = per_rrset(&current, &wanted, (3600, true));
        assert!(plan.has_changes());
        // Deleted and added back in one UPDATE: Knot ignores a bare re-add.
        assert_eq!(plan.deletes(), vec![&wanted[0]]);
        assert_eq!(plan.adds(), vec![&wanted[0]]);

        // Only other hosts' records: nothing of ours to carry the TTL in.
        let current = rrset(600, vec![srv(0, 0, 1688, "other.a.")]);
        let plan = per_rrset(&current, &[], (3600, true));
        assert!(!plan.has_changes(), "{plan:?}");
        assert!(plan.deletes().is_empty() && plan.adds().is_empty());
    }

    #[test]
    fn records_with_different_ttls_are_never_in_sync() {
        let current = SrvRrset::served(vec![
            (srv(0, 0, 1688, "kms1.a."), 600),
            (srv(0, 0, 1688, "other.a."), 3600),
        ]);
        let wanted = [srv(0, 0, 1688, "kms1.a.")];
        for configured in [600, 3600] {
            let plan = per_rrset(&current, &wanted, (configured, false));
            let change = plan.ttl_change.expect("a TTL difference");
            assert_eq!(change.mixed, Some(3600), "{plan:?}");
            assert!(!change.applied);
            let plan = per_rrset(&current, &wanted, (configured, true));
            assert!(plan.sets_ttl());
            assert_eq!(plan.ttl, configured);
            assert_eq!(plan.deletes(), vec![&wanted[0]]);
            assert_eq!(plan.adds(), vec![&wanted[0]]);
        }
    }

    /// AD: kms1 (ours) at 600, other (foreign) at 3600.
    fn per_record() -> (SrvRrset, [SrvRecord; 1]) {
        let current = SrvRrset::served(vec![
            (srv(0, 0, 1688, "kms1.a."), 600),
            (srv(0, 0, 1688, "other.a."), 3600),
        ]);
        (current, [srv(0, 0, 1688, "kms1.a.")])
    }

    #[test]
    fn per_record_ttls_compare_only_our_records() {
        let (current, wanted) = per_record();
        // Ours at the configured TTL: in sync, other hosts' TTLs are theirs.
        let plan = publish(&current, &wanted, (600, true), TtlScope::Record, ours);
        assert!(!plan.has_changes(), "{plan:?}");
        assert!(plan.ttl_change.is_none());

        // Ours differ: only ours are re-added, the foreign one is left.
        let plan = publish(&current, &wanted, (300, false), TtlScope::Record, ours);
        assert!(!plan.has_changes());
        let change = plan.ttl_change.expect("our TTL differs");
        assert_eq!((change.from, change.to, change.mixed), (600, 300, None));
        let plan = publish(&current, &wanted, (300, true), TtlScope::Record, ours);
        assert!(plan.sets_ttl());
        assert_eq!(plan.ttl, 300);
        assert_eq!(plan.deletes(), vec![&wanted[0]]);
        assert_eq!(plan.adds(), vec![&wanted[0]]);
        assert_eq!(plan.read.ttl_of(&srv(0, 0, 1688, "other.a.")), Some(3600));
    }

    #[test]
    fn per_record_adds_get_the_configured_ttl_without_set_ttl() {
        let current = rrset(3600, vec![srv(0, 0, 1688, "other.a.")]);
        let wanted = [srv(0, 0, 1688, "kms1.a.")];
        let plan = publish(&current, &wanted, (300, false), TtlScope::Record, ours);
        assert_eq!(plan.adds(), vec![&wanted[0]]);
        assert_eq!(plan.ttl, 300, "an add on AD changes no other record");
        assert!(plan.ttl_change.is_none());
        // Where the TTL is the RRset's, the add keeps it.
        for scope in [TtlScope::Rrset, TtlScope::Unknown] {
            let plan = publish(&current, &wanted, (300, false), scope, ours);
            assert_eq!(plan.ttl, 3600, "{scope:?}");
        }
    }

    #[test]
    fn mixed_ttls_are_a_difference_unless_ttls_are_per_record() {
        let (current, wanted) = per_record();
        for scope in [TtlScope::Rrset, TtlScope::Unknown] {
            let plan = publish(&current, &wanted, (600, false), scope, ours);
            let change = plan.ttl_change.expect("mixed TTLs");
            assert_eq!(change.mixed, Some(3600), "{scope:?}");
            assert_eq!(change.scope, scope);
        }
        let plan = publish(&current, &wanted, (600, false), TtlScope::Record, ours);
        assert_eq!(plan.ttl_change, None);
    }

    #[test]
    fn remove_deletes_only_ours_and_counts_what_remains() {
        let current = rrset(
            3600,
            vec![
                srv(0, 0, 1688, "kms1.a."),
                srv(0, 0, 1688, "kms2.a."),
                srv(0, 0, 1688, "other.a."),
            ],
        );
        let plan = remove(&current, ours, None);
        assert_eq!(plan.deletes().len(), 2);
        assert_eq!(plan.remaining(), 1);
        let kms2 = Name::from_ascii("kms2.a.").unwrap();
        let plan = remove(&current, ours, Some(&kms2));
        assert_eq!(plan.deletes(), vec![&srv(0, 0, 1688, "kms2.a.")]);
        assert_eq!(plan.remaining(), 2);
    }
}
