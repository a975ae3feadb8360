//! The audit report as one self-contained HTML file, for policymakers and auditors:
//! `minimis audit report DIR --html FILE` (spec: `spec/audit.md`, **AUD-27** to
//! **AUD-29**).
//!
//! The file has no external resource at all: no script, no stylesheet, font or image
//! from elsewhere, so that it can be archived, mailed and read offline and shows the same
//! thing everywhere. Its charts are inline SVG drawn with `plotters` (its SVG backend
//! writes text as SVG `<text>` and needs no font file); each has a `<title>` and a
//! `<desc>`, and the figures behind it in a table.
//!
//! What it shows:
//!
//! 1. the verdict of every check of the audit, with its requirement IDs ([`Report`]);
//! 2. the log: its origin, size, root hash, cosignatures and published policies;
//! 3. four charts: data held by category under minimis and under SmartLINK as documented,
//!    and bytes held per participant over time, both from the demo's own measurements
//!    (`DIR/demo-series.json`, [`DemoSeries`]; not audited, and marked so); accesses by
//!    purpose, and challenges per participant per epoch against the policy's cap, both
//!    from the verified log ([`LogFigures`]);
//! 4. a vendor inventory held against minimis ([`Comparison`], `minimis compare`).
//!
//! Every string the report did not write itself (policy names, labels from the log, the
//! demo's categories, the inventory's text) goes through [`escape`].
//!
//! ```
//! use minimis_audit::html::escape;
//!
//! assert_eq!(escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use minimis_log::{AuditError, LogEntry, LogReader, ReaderError, TileStorage, VerifierKey};
use minimis_proto::{CustodianRole, EpochId, ParticipantTag, Policy, UnixTime};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{Consistency, Report};
use crate::series::{DEMO_SERIES_FILE, DemoSeries};
use minimis_compare::Comparison;

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`,
/// `"` and `'`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Accesses with one purpose, from the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurposeCounts {
    /// Requests granted: `content accessed` entries by the agency custodian (each
    /// opening also has the oversight custodian's entry, not counted again).
    pub opened: u64,
    /// Requests refused: `access denied` entries.
    pub refused: u64,
}

/// What the report's log charts show, counted from the log's entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFigures {
    /// How many participant-epochs (a tag in an epoch) had each number of challenges.
    pub challenges_per_participant_epoch: BTreeMap<u32, u64>,
    /// Accesses and refusals by purpose.
    pub accesses_by_purpose: BTreeMap<String, PurposeCounts>,
    /// Entries read.
    pub entries: u64,
}

/// Counts [`LogFigures`] from entries, in log order.
#[derive(Debug)]
pub struct FiguresCollector {
    agency: Option<String>,
    per_tag_epoch: HashMap<(ParticipantTag, EpochId), u32>,
    figures: LogFigures,
}

impl FiguresCollector {
    /// A collector for a log under `policy` (whose agency custodian's entries count the
    /// openings; without one, every `content accessed` entry counts).
    pub fn new(policy: Option<&Policy>) -> Self {
        Self {
            agency: policy
                .and_then(|p| p.custodian(CustodianRole::Agency))
                .map(|c| c.id.clone()),
            per_tag_epoch: HashMap::new(),
            figures: LogFigures::default(),
        }
    }

    /// Counts one entry.
    pub fn observe(&mut self, entry: &LogEntry) {
        self.figures.entries += 1;
        match entry {
            LogEntry::ChallengeIssued { tag, epoch, .. } => {
                *self.per_tag_epoch.entry((*tag, *epoch)).or_default() += 1;
            }
            LogEntry::ContentAccessed(a)
                if self
                    .agency
                    .as_deref()
                    .is_none_or(|id| id == a.custodian.as_str()) =>
            {
                self.figures
                    .accesses_by_purpose
                    .entry(a.purpose.as_str().to_owned())
                    .or_default()
                    .opened += 1;
            }
            LogEntry::AccessDenied { access, .. } => {
                self.figures
                    .accesses_by_purpose
                    .entry(access.purpose.as_str().to_owned())
                    .or_default()
                    .refused += 1;
            }
            _ => {}
        }
    }

    /// The figures.
    pub fn finish(mut self) -> LogFigures {
        for n in self.per_tag_epoch.into_values() {
            *self
                .figures
                .challenges_per_participant_epoch
                .entry(n)
                .or_default() += 1;
        }
        self.figures
    }
}

/// Why the log's figures could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FiguresError<E: std::error::Error + 'static> {
    /// The checkpoint could not be read or does not verify.
    #[error("cannot open the log")]
    Open(#[source] ReaderError<E>),
    /// The log does not verify as it is read again.
    #[error("the log does not verify as it is read again")]
    Read(#[source] AuditError<E>),
    /// An entry is not a minimis entry.
    #[error("entry {index} is not a minimis entry")]
    Entry {
        /// The entry.
        index: u64,
        /// Why.
        #[source]
        error: minimis_log::EntryDecodeError,
    },
}

impl LogFigures {
    /// Counts the figures of the log in `storage`. Call it only for a log that the
    /// auditor verified ([`crate::Auditor::audit`] returned a report): what an
    /// unverified log says proves nothing.
    ///
    /// # Errors
    /// A [`FiguresError`].
    pub fn read<S: TileStorage>(
        storage: S,
        log_key: &VerifierKey,
        policy: Option<&Policy>,
    ) -> Result<Self, FiguresError<S::Error>> {
        let reader = LogReader::open(storage, log_key).map_err(FiguresError::Open)?;
        let mut collector = FiguresCollector::new(policy);
        let mut bad = None;
        // Verified again as it is read: the storage may read lazily from a directory
        // someone else can change (AUD-31).
        reader
            .audit_with(|index, bytes| {
                if bad.is_some() {
                    return;
                }
                match LogEntry::decode(bytes) {
                    Ok(entry) => collector.observe(&entry),
                    Err(error) => bad = Some(FiguresError::Entry { index, error }),
                }
            })
            .map_err(FiguresError::Read)?;
        match bad {
            Some(e) => Err(e),
            None => Ok(collector.finish()),
        }
    }

    /// The participant-epochs counted.
    pub fn participant_epochs(&self) -> u64 {
        self.challenges_per_participant_epoch.values().sum()
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart `{chart}`")]
pub struct ChartError {
    /// The chart.
    pub chart: &'static str,
    /// The drawing library's error.
    #[source]
    pub source: DrawingAreaErrorKind<std::io::Error>,
}

/// What the report is made of.
#[derive(Clone, Copy, Debug)]
pub struct ReportInputs<'a> {
    /// The audit's report of a verified log.
    pub report: &'a Report,
    /// The figures counted from the same log.
    pub figures: &'a LogFigures,
    /// The demo's series, if the export directory has one.
    pub series: Option<&'a DemoSeries>,
    /// A vendor inventory compared with minimis, if any.
    pub comparison: Option<&'a Comparison>,
    /// What made the report, for its footer (for example `minimis 0.1.0`).
    pub generator: &'a str,
}

// Colours: blue for minimis, red for SmartLINK, a light red for an estimate; all with
// enough contrast on white to tell apart, and each series is also labelled in text.
const MINIMIS: RGBColor = RGBColor(0x1f, 0x5f, 0x9e);
const SMARTLINK: RGBColor = RGBColor(0xb0, 0x3a, 0x2e);
const ESTIMATE: RGBColor = RGBColor(0xe6, 0xa5, 0x9c);
const GREY: RGBColor = RGBColor(0x70, 0x70, 0x70);
const LIGHT: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const AMBER: RGBColor = RGBColor(0xc7, 0x7c, 0x02);
const CAP_ZONE: RGBColor = RGBColor(0xfb, 0xe4, 0xe1);

const FONT: &str = "sans-serif";

/// The charts' width in SVG units; they scale down with the page.
const WIDTH: u32 = 900;

fn draw_err(chart: &'static str) -> impl Fn(DrawingAreaErrorKind<std::io::Error>) -> ChartError {
    move |source| ChartError { chart, source }
}

/// Bytes in SI units, as the demo prints them.
pub fn human_bytes(b: f64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    for (size, unit) in units {
        if b >= size {
            let v = b / size;
            return if v >= 100.0 {
                format!("{v:.0} {unit}")
            } else if v >= 10.0 {
                format!("{v:.1} {unit}")
            } else {
                format!("{v:.2} {unit}")
            };
        }
    }
    format!("{b:.0} B")
}

fn date(t: i64) -> String {
    let s = UnixTime(t).to_string();
    s.get(..10).map_or(s.clone(), str::to_owned)
}

/// Makes plotters' SVG accessible: `role="img"`, a `<title>` and a `<desc>` the
/// `aria-labelledby` points to, and a class for the style sheet.
fn accessible_svg(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let head =
        format!("<svg role=\"img\" class=\"chart\" aria-labelledby=\"{id}-title {id}-desc\" ");
    let svg = svg.trim().replacen("<svg ", &head, 1);
    match svg.find('>') {
        Some(end) => format!(
            "{}<title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
            &svg[..=end],
            escape(title),
            escape(desc),
            &svg[end + 1..]
        ),
        None => svg,
    }
}

/// One row of a grouped horizontal bar chart: a label and one value per series.
struct BarRow {
    label: String,
    values: Vec<(f64, bool)>,
}

struct BarSeries {
    name: &'static str,
    colour: RGBColor,
    estimate_colour: RGBColor,
}

/// A horizontal grouped bar chart: one row per label, one bar per series. `log` draws a
/// log scale (values below 1 are drawn as nothing and labelled "none").
fn grouped_bars(
    chart_name: &'static str,
    rows: &[BarRow],
    series: &[BarSeries],
    log: bool,
    value_label: &dyn Fn(f64) -> String,
    axis: &str,
) -> Result<String, ChartError> {
    let err = draw_err(chart_name);
    let n = rows.len().max(1);
    let height = 70 + 56 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let max = rows
            .iter()
            .flat_map(|r| r.values.iter().map(|v| v.0))
            .fold(0.0f64, f64::max);
        let (legend, body) = root.split_vertically(28);
        draw_legend(&legend, series).map_err(&err)?;
        let mut builder = ChartBuilder::on(&body);
        builder.margin(8).margin_right(24).x_label_area_size(36);
        let rows_f = n as f64;
        let label_font = (FONT, 13).into_font().color(&BLACK);
        let value_font = (FONT, 12).into_font().color(&BLACK);
        let bar = |i: usize, j: usize| {
            let top = i as f64 + 0.34 + j as f64 * 0.3;
            (top, top + 0.26)
        };
        macro_rules! draw {
            ($chart:expr, $x0:expr) => {{
                let chart = &mut $chart;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .disable_y_axis()
                    .light_line_style(TRANSPARENT)
                    .bold_line_style(LIGHT)
                    .x_desc(axis)
                    .x_label_formatter(&|v| value_label(*v))
                    .axis_desc_style((FONT, 13))
                    .label_style((FONT, 12))
                    .draw()
                    .map_err(&err)?;
                for (i, row) in rows.iter().enumerate() {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            row.label.clone(),
                            ($x0, i as f64 + 0.06),
                            label_font.clone(),
                        )))
                        .map_err(&err)?;
                    for (j, (&(v, estimate), s)) in row.values.iter().zip(series).enumerate() {
                        let (top, bottom) = bar(i, j);
                        let colour = if estimate {
                            s.estimate_colour
                        } else {
                            s.colour
                        };
                        let drawn = if log { v >= 1.0 } else { v > 0.0 };
                        if drawn {
                            chart
                                .draw_series(std::iter::once(Rectangle::new(
                                    [($x0, top), (v, bottom)],
                                    colour.filled(),
                                )))
                                .map_err(&err)?;
                        }
                        let text = if drawn {
                            if estimate {
                                format!("≈ {} (estimate)", value_label(v))
                            } else {
                                value_label(v)
                            }
                        } else if log {
                            "none".to_owned()
                        } else {
                            value_label(0.0)
                        };
                        let at = if drawn { v } else { $x0 };
                        chart
                            .draw_series(std::iter::once(Text::new(
                                format!(" {text}"),
                                (at, (top + bottom) / 2.0),
                                value_font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
                            )))
                            .map_err(&err)?;
                    }
                }
            }};
        }
        if log {
            let top = (max * 50.0).max(10.0);
            let mut chart = builder
                .build_cartesian_2d((1f64..top).log_scale(), rows_f..0f64)
                .map_err(&err)?;
            draw!(chart, 1.0);
        } else {
            let top = (max * 1.35).max(1.0).ceil();
            let mut chart = builder
                .build_cartesian_2d(0f64..top, rows_f..0f64)
                .map_err(&err)?;
            draw!(chart, 0.0);
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    series: &[BarSeries],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let font = (FONT, 13).into_font().color(&BLACK);
    let mut x = 12;
    let mut items: Vec<(RGBColor, String)> = Vec::new();
    for s in series {
        items.push((s.colour, s.name.to_owned()));
        if s.estimate_colour != s.colour {
            items.push((s.estimate_colour, format!("{}, estimate", s.name)));
        }
    }
    for (colour, name) in items {
        area.draw(&Rectangle::new([(x, 8), (x + 14, 22)], colour.filled()))?;
        area.draw(&Text::new(
            name.clone(),
            (x + 20, 15),
            font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 36 + 7 * name.chars().count() as i32;
    }
    Ok(())
}

/// Chart 1: data held by category at the end of the demo, minimis against SmartLINK as
/// publicly documented.
pub fn chart_categories(series: &DemoSeries) -> Result<String, ChartError> {
    let rows: Vec<BarRow> = series
        .categories
        .iter()
        .map(|c| BarRow {
            label: c.category.clone(),
            values: vec![
                (c.minimis_bytes as f64, false),
                (c.smartlink_bytes as f64, c.estimate),
            ],
        })
        .collect();
    let svg = grouped_bars(
        "data held by category",
        &rows,
        &[
            BarSeries {
                name: "minimis",
                colour: MINIMIS,
                estimate_colour: MINIMIS,
            },
            BarSeries {
                name: "SmartLINK as documented",
                colour: SMARTLINK,
                estimate_colour: ESTIMATE,
            },
        ],
        true,
        &human_bytes,
        "bytes held at the end of the demo (log scale)",
    )?;
    let estimates = series.categories.iter().filter(|c| c.estimate).count();
    Ok(accessible_svg(
        &svg,
        "chart-categories",
        "Data held by category: minimis against SmartLINK as documented",
        &format!(
            "Horizontal bars, log scale, for {} categories of data; {} of the SmartLINK figures are estimates, drawn lighter and labelled as such. The table below gives every figure.",
            series.categories.len(),
            estimates
        ),
    ))
}

/// Chart 2: bytes held per participant over the demo's simulated period.
pub fn chart_held(series: &DemoSeries) -> Result<String, ChartError> {
    let name = "stored bytes per participant over time";
    let err = draw_err(name);
    let people = series.participants.max(1) as f64;
    let first = series.samples.first().map_or(0, |s| s.at);
    let day = |at: i64| (at - first) as f64 / 86_400.0;
    let last = series.samples.last().map_or(1.0, |s| day(s.at)).max(1.0);
    let per = |b: u64| b as f64 / people;
    let max = series
        .samples
        .iter()
        .map(|s| {
            per(s.operator_ciphertext_bytes)
                .max(per(s.readable_bytes))
                .max(per(s.operator_ledger_bytes))
        })
        .fold(0.0f64, f64::max)
        .max(1.0);
    // Where retention cut the readable content: a drop between two samples.
    let cuts: Vec<f64> = series
        .samples
        .windows(2)
        .filter(|w| w[1].readable_bytes < w[0].readable_bytes)
        .map(|w| day(w[1].at))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let (legend, body) = root.split_vertically(28);
        draw_legend(
            &legend,
            &[
                BarSeries {
                    name: "held by the operator, sealed",
                    colour: MINIMIS,
                    estimate_colour: MINIMIS,
                },
                BarSeries {
                    name: "still openable (keys not destroyed)",
                    colour: AMBER,
                    estimate_colour: AMBER,
                },
                BarSeries {
                    name: "ledger, no content",
                    colour: GREY,
                    estimate_colour: GREY,
                },
                BarSeries {
                    name: "retention deadline: keys destroyed",
                    colour: SMARTLINK,
                    estimate_colour: SMARTLINK,
                },
            ],
        )
        .map_err(&err)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..last, 0f64..max * 1.15)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(LIGHT)
            .x_desc("simulated date")
            .y_desc("bytes per participant")
            .x_label_formatter(&|d| date(first + (d * 86_400.0) as i64))
            .y_label_formatter(&|b| human_bytes(*b))
            .x_labels(6)
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .draw()
            .map_err(&err)?;
        for at in &cuts {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*at, 0.0), (*at, max * 1.12)],
                    SMARTLINK.stroke_width(1),
                )))
                .map_err(&err)?;
        }
        let line = |pick: fn(&crate::series::HeldSample) -> u64| {
            series
                .samples
                .iter()
                .map(move |s| (day(s.at), per(pick(s))))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(LineSeries::new(
                line(|s| s.operator_ledger_bytes),
                GREY.stroke_width(2),
            ))
            .map_err(&err)?;
        chart
            .draw_series(LineSeries::new(
                line(|s| s.operator_ciphertext_bytes),
                MINIMIS.stroke_width(6),
            ))
            .map_err(&err)?;
        chart
            .draw_series(LineSeries::new(
                line(|s| s.readable_bytes),
                AMBER.stroke_width(2),
            ))
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(accessible_svg(
        &svg,
        "chart-held",
        "Bytes held per participant over the simulated period",
        &format!(
            "Lines over {} samples: sealed check-ins held by the operator, the part that could still be opened (by both custodians together, on a logged request: its epoch's keys are not yet destroyed), and the ledger. Retention cut the openable content {} times (vertical lines).",
            series.samples.len(),
            cuts.len()
        ),
    ))
}

/// Chart 3: accesses granted and refused by purpose, from the log.
pub fn chart_accesses(figures: &LogFigures) -> Result<String, ChartError> {
    let rows: Vec<BarRow> = figures
        .accesses_by_purpose
        .iter()
        .map(|(purpose, c)| BarRow {
            label: purpose.clone(),
            values: vec![(c.opened as f64, false), (c.refused as f64, false)],
        })
        .collect();
    let rows = if rows.is_empty() {
        vec![BarRow {
            label: "no access in the log".to_owned(),
            values: vec![(0.0, false), (0.0, false)],
        }]
    } else {
        rows
    };
    let svg = grouped_bars(
        "accesses by purpose",
        &rows,
        &[
            BarSeries {
                name: "opened (both custodians)",
                colour: MINIMIS,
                estimate_colour: MINIMIS,
            },
            BarSeries {
                name: "refused",
                colour: SMARTLINK,
                estimate_colour: SMARTLINK,
            },
        ],
        false,
        &|v| format!("{v:.0}"),
        "requests, from the log",
    )?;
    let opened: u64 = figures.accesses_by_purpose.values().map(|c| c.opened).sum();
    let refused: u64 = figures
        .accesses_by_purpose
        .values()
        .map(|c| c.refused)
        .sum();
    Ok(accessible_svg(
        &svg,
        "chart-accesses",
        "Requests to open content, by purpose",
        &format!(
            "Horizontal bars for {} purposes: {opened} requests opened, {refused} refused, as the log records them.",
            figures.accesses_by_purpose.len()
        ),
    ))
}

/// Chart 4: how many participant-epochs had each number of challenges, against the
/// policy's cap per epoch.
pub fn chart_challenges(figures: &LogFigures, cap: Option<u32>) -> Result<String, ChartError> {
    let name = "challenges per participant per epoch";
    let err = draw_err(name);
    let counts = &figures.challenges_per_participant_epoch;
    let observed = counts.keys().next_back().copied().unwrap_or(0);
    let x_max = f64::from(observed.max(cap.unwrap_or(0)) + 3);
    let y_max = counts.values().copied().max().unwrap_or(0).max(1) as f64 * 1.2;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..x_max, 0f64..y_max)
            .map_err(&err)?;
        if let Some(cap) = cap {
            let at = f64::from(cap) + 0.5;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(at, 0.0), (x_max, y_max)],
                    CAP_ZONE.filled(),
                )))
                .map_err(&err)?;
        }
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(LIGHT)
            .disable_x_mesh()
            .x_desc("challenges one participant received in one epoch")
            .y_desc("participant-epochs")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(counts.iter().map(|(&k, &n)| {
                let k = f64::from(k);
                Rectangle::new([(k - 0.4, 0.0), (k + 0.4, n as f64)], MINIMIS.filled())
            }))
            .map_err(&err)?;
        if let Some(cap) = cap {
            let at = f64::from(cap) + 0.5;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(at, 0.0), (at, y_max)],
                    SMARTLINK.stroke_width(2),
                )))
                .map_err(&err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("cap: {cap} a participant an epoch; beyond it, a violation "),
                    (at, y_max * 0.95),
                    (FONT, 12)
                        .into_font()
                        .color(&SMARTLINK)
                        .pos(Pos::new(HPos::Right, VPos::Center)),
                )))
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    Ok(accessible_svg(
        &svg,
        "chart-challenges",
        "Challenges per participant per epoch, against the policy's cap",
        &format!(
            "A histogram of {} participant-epochs; the most challenges any one received in an epoch is {observed}; the cap is {}.",
            figures.participant_epochs(),
            cap.map_or("unknown (no policy)".to_owned(), |c| c.to_string())
        ),
    ))
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5; color: #1a1a1a; background: #fff; margin: 0 auto; max-width: 62rem; padding: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 .25rem; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
p.lede { color: #444; margin-top: 0; }
.verdict { font-size: 1.15rem; padding: .6rem .9rem; border-left: .4rem solid; }
.verdict.ok { border-color: #1f7a3a; background: #eef7f0; }
.verdict.bad { border-color: #b03a2e; background: #fbeeec; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok-cell { color: #1f7a3a; font-weight: 600; }
.bad-cell { color: #b03a2e; font-weight: 600; }
.estimate, .evidence { color: #8a3b12; font-style: italic; }
.property { font-weight: normal; color: #444; }
code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
figure { margin: 1rem 0 2rem; }
figcaption { font-size: .95rem; color: #333; margin: .3rem 0; }
svg.chart { max-width: 100%; height: auto; display: block; border: 1px solid #e3e3e3; }
.note { background: #f6f6f6; border: 1px dashed #aaa; padding: .8rem 1rem; }
details { margin: .3rem 0 1rem; }
footer { margin-top: 3rem; font-size: .85rem; color: #555; border-top: 1px solid #ccc; padding-top: .6rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  figure, table, .verdict { break-inside: avoid; }
  details > summary { display: none; }
}
"#;

fn row(out: &mut String, head: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th scope=\"row\">{head}</th><td>{value}</td></tr>"
    );
}

fn no_series_note(out: &mut String) {
    let _ = writeln!(
        out,
        "<p class=\"note\">This chart needs the demo's own measurements, which are not in this directory. \
         They come from <code>minimis demo --export DIR</code>, which writes <code>DIR/{DEMO_SERIES_FILE}</code> beside the log.</p>"
    );
}

/// Renders the report as one self-contained HTML document (**AUD-27** to **AUD-29**).
///
/// # Errors
/// A [`ChartError`] if a chart cannot be drawn.
pub fn render(inputs: &ReportInputs<'_>) -> Result<String, ChartError> {
    let r = inputs.report;
    let cp = r.checkpoint().checkpoint();
    let origin = escape(cp.origin());
    let mut out = String::new();
    let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>");
    let _ = writeln!(out, "<meta charset=\"utf-8\">");
    let _ = writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    );
    let _ = writeln!(out, "<title>Audit report: {origin}</title>");
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<header>\n<h1>Audit report: {origin}</h1>");
    let _ = writeln!(
        out,
        "<p class=\"lede\">What the public log of this supervision check-in system shows, checked against its published policy on {}.</p>\n</header>\n<main>",
        escape(&r.now().to_string())
    );

    // Verdict.
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"verdict\">\n<h2 id=\"verdict\">Verdict</h2>"
    );
    let violations = r.violations().count();
    if r.holds() {
        let _ = writeln!(
            out,
            "<p class=\"verdict ok\"><strong>Every claim checked holds.</strong> The log verifies, and none of the {} policy checks below found a violation.</p>",
            r.checks().len()
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"verdict bad\"><strong>A policy claim is violated.</strong> The log verifies, but {violations} violation{} of the published policy were found; the checks below say which.</p>",
            if violations == 1 { " was" } else { "s" }
        );
    }
    let _ = writeln!(out, "</section>");

    // Scope.
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"scope\">\n<h2 id=\"scope\">What this proves, and what it does not</h2>"
    );
    let _ = writeln!(
        out,
        "<p>This report was made by the minimis auditor from the public log and the published policy alone: it needed no personal data, no account and no key. \
         It proves that the log shown here is the one its operator signed and the witnesses it was given countersigned, and that no entry in it was changed, removed or added afterwards \
         without contradicting a checkpoint that this auditor or those witnesses saw before (a log that shows different histories to different readers is caught by a witness, or by readers who compare checkpoints); \
         and that every event the log records kept the published rules: check-in requests within the schedule's caps, keys destroyed and records deleted by their deadlines, \
         and every opening of a record justified, approved by both key holders in order, and never after the record's keys were destroyed. \
         It does not prove that nothing happened outside the log: information obtained some other way, a copy of a key a key holder kept without saying so \
         (a destruction in the log is the key holder's statement, checked for its timing, not its truth), \
         or what a phone did between check-ins; those rest on the design and the code, which anyone can read and test. \
         The first two charts come from the demo's own measurements, not from the log, and the SmartLINK figures in them are as publicly documented, some of them estimates. \
         The inventory compared at the end is a declaration, not something this report verifies.</p>\n</section>"
    );

    // The checks.
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"checks\">\n<h2 id=\"checks\">The checks</h2>"
    );
    let _ = writeln!(
        out,
        "<p>Each check names the requirements of the minimis specification it enforces (for example AUD-5 and RET-1: keys destroyed by their deadline).</p>"
    );
    let _ = writeln!(
        out,
        "<table class=\"checks\">\n<caption>Every check of this audit, with its result</caption>\n<thead><tr><th scope=\"col\">check</th><th scope=\"col\">requirements</th><th scope=\"col\">result</th><th scope=\"col\">what it covered</th></tr></thead>\n<tbody>"
    );
    let consistency = match r.consistency() {
        Consistency::FirstRun => "first run: this checkpoint is recorded for the next".to_owned(),
        Consistency::Unchanged => "unchanged since the last run".to_owned(),
        Consistency::Extends { from } => format!("extends the {from} entries verified last run"),
    };
    for (name, req, what) in [
        (
            "log signatures and cosignatures",
            "AUD-1",
            format!(
                "the log's signature and {}/{} witness cosignatures",
                r.cosignatures().len(),
                r.witnesses_required()
            ),
        ),
        ("consistency with the last checkpoint", "AUD-2", consistency),
        (
            "every entry matches the tiles",
            "AUD-3",
            format!("{} entries", cp.tree_size()),
        ),
    ] {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{name}</th><td>{req}</td><td class=\"ok-cell\">holds</td><td>{}</td></tr>",
            escape(&what)
        );
    }
    for c in r.checks() {
        let (class, result) = if c.holds() {
            ("ok-cell", "holds".to_owned())
        } else {
            (
                "bad-cell",
                format!(
                    "violated ({} violation{})",
                    c.violations.len(),
                    if c.violations.len() == 1 { "" } else { "s" }
                ),
            )
        };
        let mut what = escape(&c.summary);
        if !c.violations.is_empty() {
            what.push_str("<ul>");
            for v in c.violations.iter().take(10) {
                let _ = write!(what, "<li>{}</li>", escape(&v.to_string()));
            }
            if c.violations.len() > 10 {
                let _ = write!(what, "<li>… and {} more</li>", c.violations.len() - 10);
            }
            what.push_str("</ul>");
        }
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"{class}\">{result}</td><td>{what}</td></tr>",
            escape(c.id.name()),
            c.id.requirements().join(", ")
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</section>");

    // Charts.
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"charts\">\n<h2 id=\"charts\">In pictures</h2>"
    );
    let _ = writeln!(
        out,
        "<h3 id=\"fig-categories\">1. What is held, by kind of data: minimis and SmartLINK</h3>"
    );
    match inputs.series {
        Some(s) => {
            let _ = writeln!(
                out,
                "<figure aria-labelledby=\"fig-categories\">\n{}",
                chart_categories(s)?
            );
            let _ = writeln!(
                out,
                "<figcaption>At the end of the demo's simulated period, for its {} participants. \
                 The SmartLINK figures are what a SmartLINK-style design would hold for the same check-ins, as publicly documented; \
                 those marked <span class=\"estimate\">estimate</span> are estimates, drawn lighter. \
                 These are the demo's measurements, not audited facts.</figcaption>",
                s.participants
            );
            let _ = writeln!(
                out,
                "<details><summary>The figures behind this chart</summary>\n<table>\n<caption>Bytes held by category</caption>\n<thead><tr><th scope=\"col\">category</th><th scope=\"col\">minimis</th><th scope=\"col\">SmartLINK</th><th scope=\"col\">basis of the SmartLINK figure</th></tr></thead>\n<tbody>"
            );
            for c in &s.categories {
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}{}</td><td>{}</td></tr>",
                    escape(&c.category),
                    human_bytes(c.minimis_bytes as f64),
                    human_bytes(c.smartlink_bytes as f64),
                    if c.estimate {
                        " <span class=\"estimate\">(estimate)</span>"
                    } else {
                        ""
                    },
                    escape(&c.smartlink_basis)
                );
            }
            let _ = writeln!(out, "</tbody>\n</table>\n</details>\n</figure>");
        }
        None => no_series_note(&mut out),
    }
    let _ = writeln!(
        out,
        "<h3 id=\"fig-held\">2. Stored data per participant over time, and retention cutting it off</h3>"
    );
    match inputs.series {
        Some(s) => {
            let _ = writeln!(
                out,
                "<figure aria-labelledby=\"fig-held\">\n{}",
                chart_held(s)?
            );
            let _ = writeln!(
                out,
                "<figcaption>The operator holds sealed check-ins it cannot read. When a week's retention deadline passes, both key holders destroy that week's keys: \
                 from then on nobody can read that week's check-ins, in any copy, and the operator deletes them. The demo's measurements, not audited facts.</figcaption>"
            );
            let _ = writeln!(
                out,
                "<details><summary>The figures behind this chart</summary>\n<table>\n<caption>Bytes held per participant</caption>\n<thead><tr><th scope=\"col\">date</th><th scope=\"col\">held by the operator</th><th scope=\"col\">still readable</th><th scope=\"col\">ledger</th><th scope=\"col\">public log</th><th scope=\"col\">live keys</th></tr></thead>\n<tbody>"
            );
            let people = s.participants.max(1) as f64;
            for h in &s.samples {
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    escape(&UnixTime(h.at).to_string()),
                    human_bytes(h.operator_ciphertext_bytes as f64 / people),
                    human_bytes(h.readable_bytes as f64 / people),
                    human_bytes(h.operator_ledger_bytes as f64 / people),
                    human_bytes(h.log_bytes as f64 / people),
                    h.custodian_live_keys
                );
            }
            let _ = writeln!(out, "</tbody>\n</table>\n</details>\n</figure>");
        }
        None => no_series_note(&mut out),
    }
    let f = inputs.figures;
    let _ = writeln!(
        out,
        "<h3 id=\"fig-accesses\">3. Requests to open a record, by purpose</h3>\n<figure aria-labelledby=\"fig-accesses\">\n{}",
        chart_accesses(f)?
    );
    let _ = writeln!(
        out,
        "<figcaption>From the log. A record opens only with both key holders, each logging the request first; a refused request is logged too.</figcaption>"
    );
    let _ = writeln!(
        out,
        "<details><summary>The figures behind this chart</summary>\n<table>\n<caption>Requests by purpose</caption>\n<thead><tr><th scope=\"col\">purpose</th><th scope=\"col\">opened</th><th scope=\"col\">refused</th></tr></thead>\n<tbody>"
    );
    for (purpose, c) in &f.accesses_by_purpose {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(purpose),
            c.opened,
            c.refused
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</details>\n</figure>");
    let cap = r.caps().map(|c| c.per_epoch);
    let _ = writeln!(
        out,
        "<h3 id=\"fig-challenges\">4. Check-in requests per participant per week, against the cap</h3>\n<figure aria-labelledby=\"fig-challenges\">\n{}",
        chart_challenges(f, cap)?
    );
    let _ = writeln!(
        out,
        "<figcaption>From the log. Each bar counts participant-weeks (a participant in one epoch) by how many check-in requests they received. \
         The shaded area is beyond the most any schedule under the policy allows; a bar there would be a violation (AUD-4). \
         Continuous tracking by a burst of requests would show here.</figcaption>"
    );
    let _ = writeln!(
        out,
        "<details><summary>The figures behind this chart</summary>\n<table>\n<caption>Participant-epochs by number of challenges</caption>\n<thead><tr><th scope=\"col\">challenges in the epoch</th><th scope=\"col\">participant-epochs</th></tr></thead>\n<tbody>"
    );
    for (k, n) in &f.challenges_per_participant_epoch {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{k}</th><td class=\"num\">{n}</td></tr>"
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</details>\n</figure>\n</section>");

    if let Some(c) = inputs.comparison {
        out.push_str(&c.to_html());
    }
    // The log.
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"log\">\n<h2 id=\"log\">The log, in detail</h2>"
    );
    let _ = writeln!(
        out,
        "<table class=\"facts\">\n<caption>The checkpoint this report verified</caption>\n<tbody>"
    );
    row(&mut out, "log", &format!("<code>{origin}</code>"));
    row(&mut out, "entries", &cp.tree_size().to_string());
    row(
        &mut out,
        "root hash",
        &format!("<code class=\"hash\">{}</code>", cp.root_hash().to_hex()),
    );
    let cosigs = if r.cosignatures().is_empty() {
        "none required".to_owned()
    } else {
        r.cosignatures()
            .iter()
            .map(|c| {
                format!(
                    "<code>{}</code> at {}",
                    escape(c.witness.as_str()),
                    escape(&c.time.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    row(
        &mut out,
        "witness cosignatures",
        &format!(
            "{} of {} required: {cosigs}",
            r.cosignatures().len(),
            r.witnesses_required()
        ),
    );
    // AUD-34: which keys vouched for the checkpoint, and where they came from.
    let key_cell = |k: &crate::KeyUse| {
        format!(
            "<code>{}+{}</code>: {}{}",
            escape(k.key.name().as_str()),
            k.key.key_id(),
            escape(&k.origin.to_string()),
            if k.pinned && k.origin != crate::KeyOrigin::State {
                "; pinned in the state file"
            } else {
                ""
            }
        )
    };
    row(&mut out, "log key", &key_cell(r.log_key()));
    if r.witness_keys().is_empty() {
        row(
            &mut out,
            "witness keys",
            "none required: the log's own signature alone vouches for this checkpoint",
        );
    }
    for w in r.witness_keys() {
        row(&mut out, "witness key", &key_cell(w));
    }
    for p in r.policies() {
        row(
            &mut out,
            "published policy",
            &format!(
                "“{}” <code class=\"hash\">sha256:{}</code>",
                escape(&p.name),
                p.hash
            ),
        );
    }
    row(&mut out, "checked at", &escape(&r.now().to_string()));
    let _ = writeln!(out, "</tbody>\n</table>");
    let _ = writeln!(
        out,
        "<table class=\"entries\">\n<caption>What the log records, by kind of entry</caption>\n<thead><tr><th scope=\"col\">entry</th><th scope=\"col\">count</th></tr></thead>\n<tbody>"
    );
    for (kind, n) in &r.counts().by_type {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{n}</td></tr>",
            escape(kind)
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>");
    if !r.counts().epoch_summaries.is_empty() {
        // CHK-28: per epoch, the operator's counts beside what the log itself shows.
        let _ = writeln!(
            out,
            "<table class=\"entries\">\n<caption>Check-ins and failure reports by epoch (CHK-28): the log's own counts, and the operator's summary</caption>\n<thead><tr><th scope=\"col\">epoch</th><th scope=\"col\">challenges</th><th scope=\"col\">check-ins</th><th scope=\"col\">on time</th><th scope=\"col\">late</th><th scope=\"col\">missed</th><th scope=\"col\">failure reports</th></tr></thead>\n<tbody>"
        );
        for e in &r.counts().epoch_summaries {
            let rest = match &e.summary {
                Some(s) => {
                    let reports: Vec<String> = s
                        .failure_reports
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| format!("{} {n}", escape(k)))
                        .collect();
                    format!(
                        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>",
                        s.on_time,
                        s.late,
                        s.missed,
                        if reports.is_empty() {
                            "none".to_owned()
                        } else {
                            reports.join(", ")
                        }
                    )
                }
                None => "<td colspan=\"4\">no summary</td>".to_owned(),
            };
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>{rest}</tr>",
                e.epoch.get(),
                e.challenges,
                e.check_ins
            );
        }
        let _ = writeln!(out, "</tbody>\n</table>");
    }
    let _ = writeln!(out, "</section>");

    let _ = writeln!(out, "</main>");
    let _ = writeln!(
        out,
        "<footer><p>Made by {} with <code>minimis audit report</code>. To check it yourself: <code>minimis audit DIR</code> on the same export gives the same verdict, \
         and <code>minimis compare INVENTORY.toml</code> the same comparison. This file loads nothing from anywhere else.</p></footer>",
        escape(inputs.generator)
    );
    let _ = writeln!(out, "</body>\n</html>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::Auditor;
    use crate::series::{CategoryRow, DEMO_SERIES_FORMAT, HeldSample};
    use crate::synthetic::{History, Params, SignedLog};
    use minimis_compare::Inventory;

    fn series(hostile: &str) -> DemoSeries {
        let day = 86_400;
        DemoSeries {
            format: DEMO_SERIES_FORMAT.to_owned(),
            participants: 10,
            samples: (0..20)
                .map(|d| HeldSample {
                    at: 1_780_000_000 + d * day,
                    operator_ciphertext_bytes: if d < 12 { 11_000 * d as u64 } else { 5_000 },
                    operator_ledger_bytes: 300 * d as u64,
                    log_bytes: 900 * d as u64,
                    readable_bytes: if d < 12 { 11_000 * d as u64 } else { 5_000 },
                    custodian_live_keys: 4,
                })
                .collect(),
            categories: vec![
                CategoryRow {
                    category: "check-in content".to_owned(),
                    minimis_bytes: 11_000,
                    smartlink_bytes: 20_000,
                    smartlink_basis: "one record per check-in".to_owned(),
                    estimate: false,
                },
                CategoryRow {
                    category: hostile.to_owned(),
                    minimis_bytes: 0,
                    smartlink_bytes: 300_000_000,
                    smartlink_basis: hostile.to_owned(),
                    estimate: true,
                },
            ],
        }
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escape("plain é ≈"), "plain é ≈");
    }

    #[test]
    fn human_bytes_uses_si_units() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(1_100_000.0), "1.10 MB");
        assert_eq!(human_bytes(300_000_000.0), "300 MB");
        assert_eq!(human_bytes(15_500.0), "15.5 kB");
    }

    #[test]
    fn accessible_svg_adds_a_title_and_a_description() {
        let svg = accessible_svg(
            "<svg width=\"1\" height=\"1\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect/></svg>",
            "c",
            "T <1>",
            "D",
        );
        assert!(svg.starts_with(
            "<svg role=\"img\" class=\"chart\" aria-labelledby=\"c-title c-desc\" width"
        ));
        assert!(svg.contains(
            "<title id=\"c-title\">T &lt;1&gt;</title><desc id=\"c-desc\">D</desc>\n<rect/>"
        ));
    }

    #[test]
    fn aud_29_estimates_are_drawn_and_labelled_as_estimates() {
        let svg = chart_categories(&series("face images")).unwrap();
        assert!(svg.contains("(estimate)"), "{svg}");
        assert!(svg.contains("SmartLINK as documented, estimate"));
        // The estimate's bar has its own colour.
        assert!(svg.contains("#E6A59C"), "{svg}");
        // Zero bytes under minimis is said in words.
        assert!(svg.contains(" none"));
    }

    #[test]
    fn retention_cuts_are_marked_on_the_held_chart() {
        let svg = chart_held(&series("x")).unwrap();
        // One red line where the readable bytes drop (day 12), and the legend for it.
        assert_eq!(
            svg.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#B03A2E\"")
                .count(),
            1,
            "{svg}"
        );
        assert!(svg.contains("retention deadline: keys destroyed"));
    }

    #[test]
    fn figures_count_challenges_per_tag_epoch_and_accesses_by_purpose() {
        let history = History::generate(&Params {
            participants: 8,
            epochs: 3,
            ..Params::small()
        });
        let mut c = FiguresCollector::new(Some(&history.policy));
        for e in &history.entries {
            c.observe(e);
        }
        let f = c.finish();
        // 2 windows a day for 7 days; a quarter of the people get one ad-hoc more.
        assert_eq!(f.participant_epochs(), 8 * 3);
        assert!(f.challenges_per_participant_epoch.contains_key(&14));
        assert!(f.challenges_per_participant_epoch.contains_key(&15));
        let opened: u64 = f.accesses_by_purpose.values().map(|c| c.opened).sum();
        let entries = history
            .entries
            .iter()
            .filter(|e| matches!(e, LogEntry::ContentAccessed(_)))
            .count() as u64;
        assert_eq!(opened * 2, entries, "one opening per two custodian entries");
        assert_eq!(f.accesses_by_purpose["court-order"].refused, 3);
    }

    #[test]
    fn aud_27_aud_28_a_report_is_self_contained_names_every_check_and_escapes() {
        let history = History::generate(&Params {
            participants: 6,
            epochs: 16,
            ..Params::small()
        });
        let log = SignedLog::build(&history.entries, 500);
        let report = Auditor::new(log.log_key.clone(), history.now)
            .witness(log.witness_key.clone())
            .policy(history.policy.clone())
            .audit(log.storage(), None)
            .unwrap();
        let figures = LogFigures::read(log.storage(), &log.log_key, Some(&history.policy)).unwrap();
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let series = series(hostile);
        let comparison = Inventory::from_toml_str(minimis_compare::SMARTLINK_INVENTORY)
            .unwrap()
            .compare(&history.policy);
        let html = render(&ReportInputs {
            report: &report,
            figures: &figures,
            series: Some(&series),
            comparison: Some(&comparison),
            generator: "minimis test <b>",
        })
        .unwrap();
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert_eq!(html.matches("<svg").count(), 4);
        for id in ["AUD-1", "AUD-2", "AUD-3"] {
            assert!(html.contains(id), "{id}");
        }
        for c in report.checks() {
            for id in c.id.requirements() {
                assert!(html.contains(id), "{id}");
            }
        }
        assert!(!html.contains("<img"), "a hostile string was not escaped");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(
            html.contains("POL-4"),
            "the SmartLINK comparison is included"
        );
    }
}
