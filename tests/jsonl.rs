//! `--format jsonl` against the real BIND test bed: every line is JSON on
//! its own, and the lines hold what `--format json` holds, cut by domain
//! and zone: the same domains, findings, details, status and exit status.

use crate::common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::bind::{key_file, TestBed};
use common::run::{Kmsdns, Run};

/// A healthy domain, a broken one and one whose zone takes unsigned updates.
pub(crate) fn config(dir: &Path) -> PathBuf {
    let path = dir.join("kmsdns.toml");
    let text = format!(
        "publish-list = [\"static.example\", \"broken.example\", \"open.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n\
         [tsig-key.secure]\nfile = \"{}\"\n",
        key_file("kmsdns-secure").display()
    );
    std::fs::write(&path, text).expect("config");
    path
}

pub(crate) fn run(bed: &TestBed, config: &Path, format: &str, args: &[&str]) -> Run {
    Kmsdns::new()
        .args(["-c", config.to_str().expect("UTF-8")])
        .bed(bed)
        .args(["--timeout", "500ms", "--format", format])
        .args(args)
        .run()
}

/// Every line of a JSON lines run, each parsed on its own; the last is the
/// totals.
pub(crate) fn lines(run: &Run) -> Vec<Value> {
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{run}"))
        })
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(kinds.len(), lines.len(), "every line has a type: {run}");
    assert_eq!(kinds.last(), Some(&"totals"), "{run}");
    assert_eq!(kinds.iter().filter(|k| **k == "totals").count(), 1, "{run}");
    assert!(
        kinds[..kinds.len() - 1]
            .iter()
            .all(|k| *k == "domain" || *k == "zone"),
        "{kinds:?}"
    );
    lines
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

/// Findings as sorted text: a multiset that ignores order.
fn sorted(findings: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut findings: Vec<String> = findings.into_iter().map(|f| f.to_string()).collect();
    findings.sort();
    findings
}

/// A value without what differs from run to run: timings (`*_ms`)
/// and the order of check's `targets` (the order of the SRV records as
/// served, which BIND rotates).
pub(crate) fn stable(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for timing in ["elapsed_ms", "connect_ms", "reply_ms"] {
                    map.remove(timing);
                }
                if let Some(Value::Array(targets)) = map.get_mut("targets") {
                    targets.sort_by_key(|t| t.to_string());
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// The JSON lines hold what the JSON document holds: status, summary,
/// every finding (those about a domain on its line), each domain's entry
/// of `domains[]` and each zone's of `zones[]` (under `part` in `audit`).
fn same_as_json(json: &Run, jsonl: &Run, part: Option<&str>) {
    assert_eq!(jsonl.status, json.status, "{jsonl}\n{json}");
    let doc: Value = json.json();
    let lines = lines(jsonl);
    let totals = lines.last().expect("totals");
    for field in ["schema", "command", "status", "summary"] {
        assert_eq!(totals[field], doc[field], "{field}: {jsonl}");
    }
    let domains = of_type(&lines, "domain");
    assert_eq!(totals["domains"], domains.len(), "{jsonl}");
    for domain in &domains {
        let name = domain["domain"].as_str().expect("domain");
        for finding in domain["findings"].as_array().expect("findings") {
            assert_eq!(finding["domain"], name, "{jsonl}");
        }
    }
    let from_lines = domains
        .iter()
        .flat_map(|d| d["findings"].as_array().expect("findings").clone())
        .chain(totals["findings"].as_array().expect("findings").clone());
    let from_doc = doc["findings"].as_array().expect("findings").clone();
    assert_eq!(sorted(from_lines), sorted(from_doc), "{jsonl}\n{json}");

    let details = match part {
        Some(part) => &doc["details"][part],
        None => &doc["details"],
    };
    let nest = |value: &Value| match part {
        Some(part) => value[part].clone(),
        None => value.clone(),
    };
    if let Some(entries) = details["domains"].as_array() {
        let names: Vec<&Value> = domains.iter().map(|d| &d["domain"]).collect();
        let listed: Vec<&Value> = entries.iter().map(|e| &e["domain"]).collect();
        assert_eq!(names, listed, "every domain, in order: {jsonl}");
        for (line, entry) in domains.iter().zip(entries) {
            assert_eq!(
                stable(nest(&line["details"])),
                stable(entry.clone()),
                "{jsonl}"
            );
        }
    }
    if let Some(zones) = details["zones"].as_array() {
        let lines: Vec<Value> = of_type(&lines, "zone")
            .into_iter()
            .map(|z| stable(nest(&z["details"])))
            .filter(|z| !z.is_null())
            .collect();
        let zones: Vec<Value> = zones.iter().cloned().map(stable).collect();
        assert_eq!(lines, zones, "{jsonl}");
    }
}

#[test]
fn check_replication_and_probe_lines_hold_what_json_holds() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    for command in ["check", "replication", "probe"] {
        let json = run(&bed, &config, "json", &[command]);
        let jsonl = run(&bed, &config, "jsonl", &[command]);
        same_as_json(&json, &jsonl, None);
        let domains = of_type(&lines(&jsonl), "domain").len();
        assert_eq!(domains, 3, "{jsonl}");
    }
}

#[test]
fn audit_lines_hold_what_json_holds_whatever_the_window() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let args = ["audit", "--no-probe"];
    let json = run(&bed, &config, "json", &args);
    assert_eq!(json.status, 2, "{json}");
    let jsonl = run(&bed, &config, "jsonl", &args);
    same_as_json(&json, &jsonl, Some("check"));
    same_as_json(&json, &jsonl, Some("replication"));
    let totals = lines(&jsonl).pop().expect("totals");
    assert_eq!(
        totals["details"]["parts"],
        serde_json::json!(["check", "replication", "updates"])
    );
    assert_eq!(totals["domains"], 3);

    // One domain at a time, spooled until the end: the same lines.
    let one_by_one = run(
        &bed,
        &config,
        "jsonl",
        &[&args[..], &["--window", "1"]].concat(),
    );
    assert_eq!(one_by_one.status, jsonl.status);
    let stable_lines = |run: &Run| -> Vec<Value> { lines(run).into_iter().map(stable).collect() };
    let (one_by_one, whole) = (stable_lines(&one_by_one), stable_lines(&jsonl));
    assert_eq!(one_by_one.len(), whole.len());
    for (one, whole) in one_by_one.iter().zip(&whole) {
        assert_eq!(one, whole);
    }
}

#[test]
fn an_error_is_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = Kmsdns::new()
        .cwd(dir.path())
        .args(["--format", "jsonl", "check"])
        .run();
    assert_eq!(run.status, 3, "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    let line: Value = run.json();
    assert_eq!(line["type"], "error");
    assert_eq!(line["status"], "unknown");
    assert_eq!(line["command"], "check");
    assert!(
        line["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{run}"
    );
}
