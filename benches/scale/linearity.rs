//! `--sizes`: the benchmark at several sizes, and what each operation
//! costs per domain at each, to show whether the cost is linear (issue 20).

use std::fmt::Write as _;

use serde::Serialize;

use super::harness::Results;

/// One operation's cost per domain at each size.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// The operation, with its size-dependent figures written `N`.
    pub operation: String,
    /// Median wall time per domain, µs, at each size (`None`: not run).
    pub us_per_domain: Vec<Option<f64>>,
}

/// Every operation at every size.
#[derive(Clone, Debug, Serialize)]
pub struct Linearity {
    pub sizes: Vec<usize>,
    pub repetitions: Vec<usize>,
    pub lines: Vec<Line>,
}

impl Linearity {
    /// The lines of `runs` (one per size, smallest first), in the order
    /// the operations were run.
    pub fn of(runs: &[Results]) -> Linearity {
        let mut lines: Vec<Line> = Vec::new();
        for (at, run) in runs.iter().enumerate() {
            for row in &run.rows {
                let operation = generic(&row.operation);
                let index = match lines.iter().position(|l| l.operation == operation) {
                    Some(index) => index,
                    None => {
                        lines.push(Line {
                            operation,
                            us_per_domain: vec![None; runs.len()],
                        });
                        lines.len() - 1
                    }
                };
                let per_domain = row.kmsdns.median * 1e6 / run.domains.max(1) as f64;
                lines[index].us_per_domain[at] = Some(per_domain);
            }
        }
        Linearity {
            sizes: runs.iter().map(|r| r.domains).collect(),
            repetitions: runs.iter().map(|r| r.repetitions).collect(),
            lines,
        }
    }

    /// Markdown: µs per domain at each size, and the largest size's
    /// figure over the one before it (1.00: linear).
    pub fn table(&self) -> String {
        let mut text = String::new();
        let sizes: Vec<String> = self.sizes.iter().map(|&n| thousands(n)).collect();
        let ratio = match &sizes[..] {
            [.., before, last] => Some(format!("{last} / {before}")),
            _ => None,
        };
        let _ = writeln!(
            text,
            "µs per domain (median wall time ÷ domains); repetitions: {}",
            self.repetitions
                .iter()
                .zip(&sizes)
                .map(|(r, n)| format!("{r} at {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(text);
        let mut head = format!("| operation | {} |", sizes.join(" | "));
        let mut rule = format!("|---|{}", "---:|".repeat(sizes.len()));
        if let Some(ratio) = &ratio {
            let _ = write!(head, " {ratio} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(text, "{head}\n{rule}");
        for line in &self.lines {
            let cells: Vec<String> = line
                .us_per_domain
                .iter()
                .map(|v| v.map_or("–".to_string(), |us| format!("{us:.1}")))
                .collect();
            let mut out = format!("| {} | {} |", line.operation, cells.join(" | "));
            if ratio.is_some() {
                let shown = match &line.us_per_domain[..] {
                    [.., Some(before), Some(last)] if *before > 0.0 => {
                        format!("{:.2}", last / before)
                    }
                    _ => "–".to_string(),
                };
                let _ = write!(out, " {shown} |");
            }
            let _ = writeln!(text, "{out}");
        }
        text
    }
}

/// `bind --out DIR (3003 files)` → `bind --out DIR (N files)`: one line
/// for an operation whose name holds its size.
fn generic(operation: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in operation.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// 100000 → `100,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
