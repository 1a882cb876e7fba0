//! The report as text (a terminal), markdown (an evidence report to file) and HTML (the same,
//! with a timeline of each database's recovery-point age against its RPO).

use std::fmt::Write;

use super::{DatabaseReport, DrillsReport, PolicyReport, Report};

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn rpo_cell(d: &DatabaseReport) -> String {
    if let Some(retired) = &d.retired {
        return match &retired.kept_until {
            Some(until) => format!(
                "retired ({}; final copy kept until {until})",
                retired.policy
            ),
            None => format!("retired ({})", retired.policy),
        };
    }
    match (d.rpo_met, d.rpo_minutes, d.recovery_point_age_minutes) {
        (Some(true), Some(rpo), Some(age)) => format!("met ({age} of {rpo} min)"),
        (Some(false), Some(rpo), Some(age)) => format!("MISSED ({age} of {rpo} min)"),
        (Some(false), Some(rpo), None) => format!("MISSED (no DR copy, RPO {rpo} min)"),
        _ => "no DR policy".to_string(),
    }
}

fn drill_cell(d: &DatabaseReport) -> String {
    match &d.last_drill {
        Some(drill) => {
            let verdict = match drill.met {
                Some(true) => " (RTO met)",
                Some(false) => " (RTO MISSED)",
                None => "",
            };
            format!("{} min at {}{verdict}", drill.minutes, drill.at)
        }
        None => "-".to_string(),
    }
}

fn failure_cell(d: &DatabaseReport) -> String {
    d.last_failure.as_ref().map_or_else(
        || "-".to_string(),
        |f| format!("{} at {}", f.error.as_deref().unwrap_or("failed"), f.at),
    )
}

/// Whether a policy is failing, and whether its deletes are held (an incident).
fn failing_text(p: &PolicyReport, yes: &str, no: &str) -> String {
    let failing = if p.failing { yes } else { no };
    match &p.deletes_held {
        Some(held) => format!("{failing}; DELETES HELD since {held}"),
        None => failing.to_string(),
    }
}

/// One row per database: the columns both text and markdown show.
fn rows(report: &Report) -> Vec<[String; 8]> {
    report
        .databases
        .iter()
        .map(|d| {
            [
                d.database.clone(),
                or_dash(d.newest_snapshot.as_ref().map(|s| s.id.clone())),
                match (d.shared, d.shared_outside.is_empty()) {
                    (_, false) => format!("ALSO WITH {}", d.shared_outside.join(", ")),
                    (Some(true), true) => "yes".into(),
                    (Some(false), true) => "NO".into(),
                    (None, true) => "-".into(),
                },
                or_dash(d.newest_copy.as_ref().map(|s| s.id.clone())),
                rpo_cell(d),
                or_dash(d.delivery_lag_minutes.map(|m| format!("{m} min"))),
                drill_cell(d),
                failure_cell(d),
            ]
        })
        .collect()
}

const HEADERS: [&str; 8] = [
    "database",
    "newest snapshot",
    "shared",
    "newest DR copy",
    "RPO",
    "delivery lag",
    "last drill",
    "last failure",
];

const DRILL_HEADERS: [&str; 9] = [
    "database",
    "requested",
    "restore (min)",
    "RTO (min)",
    "outcome",
    "validated",
    "DR copy",
    "recovery point",
    "recorded",
];

/// The drill table's rows, oldest first.
fn drill_rows(drills: &DrillsReport) -> Vec<Vec<String>> {
    drills
        .records
        .iter()
        .map(|d| {
            let r = &d.record;
            vec![
                r.database.clone(),
                r.requested.clone(),
                or_dash(r.restore_minutes),
                r.rto_minutes.to_string(),
                match &r.kept_until {
                    Some(until) => format!("{} (kept until {until})", r.outcome),
                    None => r.outcome.clone(),
                },
                r.validated.clone().unwrap_or_else(|| "-".into()),
                r.copy.clone(),
                r.recovery_point.clone().unwrap_or_else(|| "-".into()),
                d.recorded_at.clone(),
            ]
        })
        .collect()
}

fn drills_title(drills: &DrillsReport) -> String {
    format!(
        "Restore drills {} to {} ({} recorded)",
        drills.from,
        drills.to,
        drills.records.len()
    )
}

/// For a terminal: the verdict, then one line per database, policy and quota.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rds-snapshot-policy status at {}: {}",
        report.generated_at, report.verdict
    );
    let table = rows(report);
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .chain([HEADERS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "{}", line(HEADERS.to_vec()));
    for row in &table {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    for p in &report.policies {
        let _ = writeln!(
            out,
            "policy {} ({}, {}/{}{}): {} state machines{}",
            p.policy_id,
            p.role,
            p.account,
            p.region,
            p.stack
                .as_deref()
                .map(|s| format!(", stack {s}"))
                .unwrap_or_default(),
            p.state_machines.len(),
            failing_text(p, ", FAILING", "")
        );
        if let Some(f) = &p.rpo_forecast {
            let _ = writeln!(out, "  RPO {}", f.describe());
        }
    }
    for q in &report.quotas {
        let _ = writeln!(
            out,
            "quota {} in {}/{}: {} of {}",
            q.quota, q.account, q.region, q.used, q.max
        );
    }
    if let Some(drills) = &report.drills {
        let _ = writeln!(out, "{}", drills_title(drills));
        for row in drill_rows(drills) {
            let _ = writeln!(
                out,
                "drill of {} requested {}: {} min (RTO {}), {}; copy {} (recovery point {})",
                row[0], row[1], row[2], row[3], row[4], row[6], row[7]
            );
        }
    }
    for w in &report.warnings {
        let _ = writeln!(out, "not read: {w}");
    }
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// An evidence report an auditor can file: when it was produced, the verdict, the tables.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Disaster-recovery evidence: rds-snapshot-policy\n");
    let _ = writeln!(out, "- Produced at: {} (AWS's clock)", report.generated_at);
    let _ = writeln!(out, "- Verdict: **{}**", report.verdict);
    let _ = writeln!(
        out,
        "- Report format: version {} (`rds-snapshot-policy status --json`)\n",
        report.report_version
    );
    let _ = writeln!(out, "## Databases\n");
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADERS.len()));
    for row in rows(report) {
        let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(out, "\n## Policies\n");
    let _ = writeln!(
        out,
        "| policy | role | account | region | stack | RPO (min) | RTO (min) | failing |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for p in &report.policies {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&p.policy_id),
            p.role,
            p.account,
            p.region,
            md_cell(p.stack.as_deref().unwrap_or("-")),
            p.rpo_minutes,
            or_dash(p.rto_minutes),
            md_cell(&failing_text(p, "**yes**", "no"))
        );
    }
    let forecasts: Vec<_> = report
        .policies
        .iter()
        .filter_map(|p| p.rpo_forecast.as_ref().map(|f| (p, f)))
        .collect();
    if !forecasts.is_empty() {
        let _ = writeln!(out, "\n## RPO forecast from measured copy times\n");
        for (p, f) in forecasts {
            let _ = writeln!(
                out,
                "- {}: {}",
                md_cell(&p.policy_id),
                md_cell(&f.describe())
            );
        }
    }
    let _ = writeln!(out, "\n## Snapshot quotas\n");
    let _ = writeln!(out, "| account | region | quota | used | max |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for q in &report.quotas {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            q.account, q.region, q.quota, q.used, q.max
        );
    }
    if let Some(drills) = &report.drills {
        let _ = writeln!(out, "\n## {}\n", drills_title(drills));
        let _ = writeln!(out, "| {} |", DRILL_HEADERS.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(DRILL_HEADERS.len()));
        for row in drill_rows(drills) {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n## Not read\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {}", md_cell(w));
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The timeline's drawing: one SVG per database from the report embedded as JSON, with a time
/// axis (UTC), a minutes axis, the RPO as a dashed line and a legend.
const CHART_SCRIPT: &str = r#"
const report = JSON.parse(document.getElementById("report").textContent);
const svgNs = "http://www.w3.org/2000/svg";
const el = (name, attrs, text) => {
  const node = document.createElementNS(svgNs, name);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
};
const hhmm = t => new Date(t).toISOString().slice(11, 16);
report.databases.forEach((db, i) => {
  const box = document.getElementById("chart-" + i);
  if (!box) return;
  const points = db.ageHistory.map(([t, v]) => [Date.parse(t), v]);
  if (points.length === 0) { box.textContent = "no published recovery-point ages"; return; }
  const [w, h, left, right, top, bottom] = [720, 220, 56, 16, 30, 44];
  const rpo = db.rpoMinutes || 0;
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const high = Math.max(rpo * 1.2, ...points.map(p => p[1]), 1);
  const x = t => left + (w - left - right) * (t - t0) / (t1 - t0);
  const y = v => h - bottom - (h - top - bottom) * v / high;
  const svg = el("svg", {viewBox: `0 0 ${w} ${h}`, class: "timeline", role: "img",
    "aria-label": `recovery-point age of ${db.database} against its RPO`});
  svg.appendChild(el("line", {class: "x-axis", x1: left, x2: w - right, y1: h - bottom, y2: h - bottom}));
  svg.appendChild(el("line", {class: "y-axis", x1: left, x2: left, y1: top, y2: h - bottom}));
  [t0, (t0 + t1) / 2, t1].forEach(t => {
    svg.appendChild(el("text", {class: "tick x-tick", x: x(t), y: h - bottom + 14, "text-anchor": "middle"}, hhmm(t)));
  });
  [0, Math.round(high / 2), Math.round(high)].forEach(v => {
    svg.appendChild(el("text", {class: "tick y-tick", x: left - 6, y: y(v) + 4, "text-anchor": "end"}, String(v)));
  });
  svg.appendChild(el("text", {class: "axis-title", x: (left + w - right) / 2, y: h - 6, "text-anchor": "middle"},
    "time (UTC)"));
  svg.appendChild(el("text", {class: "axis-title", x: 14, y: (top + h - bottom) / 2, "text-anchor": "middle",
    transform: `rotate(-90 14 ${(top + h - bottom) / 2})`}, "age (minutes)"));
  svg.appendChild(el("polyline", {class: "age",
    points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}));
  const legend = el("g", {class: "legend"});
  legend.appendChild(el("line", {class: "age", x1: left + 8, x2: left + 32, y1: 12, y2: 12}));
  legend.appendChild(el("text", {x: left + 38, y: 16}, "recovery-point age of the newest DR copy"));
  if (rpo) {
    svg.appendChild(el("line", {class: "rpo-line", x1: left, x2: w - right, y1: y(rpo), y2: y(rpo)}));
    legend.appendChild(el("line", {class: "rpo-line", x1: left + 330, x2: left + 354, y1: 12, y2: 12}));
    legend.appendChild(el("text", {x: left + 360, y: 16}, `RPO ${rpo} min`));
  }
  svg.appendChild(legend);
  box.appendChild(svg);
});
"#;

/// A titled table of escaped cells.
fn html_table(
    out: &mut String,
    title: &str,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let _ = write!(out, "<h2>{}</h2>\n<table><tr>", escape(title));
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    let _ = writeln!(out, "</tr>");
    for row in rows {
        let _ = write!(out, "<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</table>");
}

/// The markdown report's content as a page (every table), with a timeline per database.
pub fn html(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rds-snapshot-policy evidence {}</title>\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
.timeline{{width:720px;height:220px;border:1px solid #ddd}}.age{{fill:none;stroke:#1f77b4;stroke-width:2}}.rpo-line{{stroke:#d62728;stroke-dasharray:6 4}}\
.x-axis,.y-axis{{stroke:#333}}.tick,.legend text{{font-size:11px;fill:#333}}.axis-title{{font-size:12px;fill:#333}}\
.verdict-protected{{color:#2ca02c}}.verdict-at-risk,.verdict-unknown{{color:#d62728}}</style></head><body>\n",
        escape(&report.generated_at)
    );
    let _ = writeln!(
        out,
        "<h1>Disaster-recovery evidence: rds-snapshot-policy</h1>\n<p>Produced at {} (AWS's clock). Verdict: <strong class=\"verdict-{}\">{}</strong>. Report format: version {} (<code>rds-snapshot-policy status --json</code>).</p>",
        escape(&report.generated_at),
        escape(&report.verdict.replace(' ', "-")),
        escape(&report.verdict),
        report.report_version
    );
    html_table(
        &mut out,
        "Databases",
        &HEADERS,
        rows(report).into_iter().map(|row| row.to_vec()),
    );
    html_table(
        &mut out,
        "Policies",
        &[
            "policy",
            "role",
            "account",
            "region",
            "stack",
            "RPO (min)",
            "RTO (min)",
            "failing",
        ],
        report.policies.iter().map(|p| {
            vec![
                p.policy_id.clone(),
                p.role.clone(),
                p.account.clone(),
                p.region.clone(),
                p.stack.clone().unwrap_or_else(|| "-".into()),
                p.rpo_minutes.to_string(),
                or_dash(p.rto_minutes),
                failing_text(p, "yes", "no"),
            ]
        }),
    );
    html_table(
        &mut out,
        "Snapshot quotas",
        &["account", "region", "quota", "used", "max"],
        report.quotas.iter().map(|q| {
            vec![
                q.account.clone(),
                q.region.clone(),
                q.quota.to_string(),
                q.used.to_string(),
                q.max.to_string(),
            ]
        }),
    );
    if let Some(drills) = &report.drills {
        html_table(
            &mut out,
            &drills_title(drills),
            &DRILL_HEADERS,
            drill_rows(drills).into_iter(),
        );
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "<h2>Not read</h2>\n<ul>");
        for w in &report.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(w));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "<h2>Recovery-point age against the RPO</h2>");
    for (i, d) in report.databases.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<div class=\"chart\" id=\"chart-{i}\"></div>",
            escape(&d.database)
        );
    }
    // `<` never appears raw inside the script element, so no value can close it.
    let data = serde_json::to_string(report)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"report\">{data}</script>\n<script>{CHART_SCRIPT}</script>\n</body></html>"
    );
    out
}
