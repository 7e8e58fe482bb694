//! The report as a PDF, made on the server with lopdf: A4 pages, the
//! standard Helvetica faces (nothing embedded; WinAnsi encoding, so text
//! outside it prints as `?`), the ratings chart drawn as vector graphics,
//! and page numbers.

use askpanel_actors::consensus::figures::figure;
use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, Stream, StringFormat, dictionary};

use self::fonts::text_width;
pub use self::fonts::{Face, win_ansi, wrap};
use super::words::{self, ROUND_COLUMNS};
use super::{Report, chart};

mod fonts;

const PAGE_W: f64 = 595.28;
const PAGE_H: f64 = 841.89;
const MARGIN_X: f64 = 56.0;
const MARGIN_TOP: f64 = 60.0;
const MARGIN_BOTTOM: f64 = 64.0;
const TEXT_W: f64 = PAGE_W - 2.0 * MARGIN_X;

/// Lays pages out top to bottom.
struct Pages {
    done: Vec<Vec<Operation>>,
    ops: Vec<Operation>,
    y: f64,
}

impl Pages {
    fn new() -> Self {
        Self { done: Vec::new(), ops: Vec::new(), y: PAGE_H - MARGIN_TOP }
    }

    fn break_page(&mut self) {
        self.done.push(std::mem::take(&mut self.ops));
        self.y = PAGE_H - MARGIN_TOP;
    }

    /// Makes room for `height` points, on a new page when needed.
    fn room(&mut self, height: f64) {
        if self.y - height < MARGIN_BOTTOM && self.y < PAGE_H - MARGIN_TOP {
            self.break_page();
        }
    }

    fn show(&mut self, x: f64, y: f64, text: &str, face: Face, size: f64) {
        let bytes: Vec<u8> = text.chars().map(win_ansi).collect();
        self.ops.push(Operation::new("BT", vec![]));
        self.ops.push(Operation::new("Tf", vec![Object::Name(face.resource().as_bytes().to_vec()), size.into()]));
        self.ops.push(Operation::new("Td", vec![x.into(), y.into()]));
        self.ops.push(Operation::new("Tj", vec![Object::String(bytes, StringFormat::Literal)]));
        self.ops.push(Operation::new("ET", vec![]));
    }

    /// A wrapped paragraph, `indent` points in.
    fn paragraph(&mut self, text: &str, face: Face, size: f64, indent: f64) {
        let leading = size * 1.35;
        // Carriage returns (CRLF text) are line ends, not characters to print.
        for line in wrap(&text.trim().replace('\r', ""), face, size, TEXT_W - indent) {
            self.room(leading);
            self.y -= leading;
            self.show(MARGIN_X + indent, self.y, &line, face, size);
        }
        self.y -= size * 0.5;
    }

    fn heading(&mut self, text: &str, size: f64) {
        self.room(size * 3.0 + 30.0);
        self.y -= size * 0.8;
        self.paragraph(text, Face::Bold, size, 0.0);
    }

    fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, rgb: (f64, f64, f64)) {
        self.ops.push(Operation::new("rg", vec![rgb.0.into(), rgb.1.into(), rgb.2.into()]));
        self.ops.push(Operation::new("re", vec![x.into(), y.into(), w.into(), h.into()]));
        self.ops.push(Operation::new("f", vec![]));
        self.ops.push(Operation::new("rg", vec![0.into(), 0.into(), 0.into()]));
    }

    fn line(&mut self, from: (f64, f64), to: (f64, f64), width: f64, rgb: (f64, f64, f64)) {
        self.ops.push(Operation::new("RG", vec![rgb.0.into(), rgb.1.into(), rgb.2.into()]));
        self.ops.push(Operation::new("w", vec![width.into()]));
        self.ops.push(Operation::new("m", vec![from.0.into(), from.1.into()]));
        self.ops.push(Operation::new("l", vec![to.0.into(), to.1.into()]));
        self.ops.push(Operation::new("S", vec![]));
    }

    /// A table row: each cell cut to its column (no wrapping).
    fn row(&mut self, cells: &[String], widths: &[f64], face: Face, size: f64) {
        let leading = size * 1.5;
        self.room(leading);
        self.y -= leading;
        let mut x = MARGIN_X;
        for (cell, width) in cells.iter().zip(widths) {
            let mut text = cell.clone();
            while text_width(&text, face, size) > width - 4.0 && !text.is_empty() {
                text.pop();
            }
            if text.len() < cell.len() && !text.is_empty() {
                text.pop();
                text.push('…');
            }
            self.show(x, self.y, &text, face, size);
            x += width;
        }
        self.line(
            (MARGIN_X, self.y - 3.0),
            (MARGIN_X + widths.iter().sum::<f64>(), self.y - 3.0),
            0.3,
            (0.8, 0.8, 0.8),
        );
    }

    /// The ratings chart: the SVG's geometry, scaled to the text width.
    fn chart(&mut self, report: &Report) {
        let rated = chart::rated(&report.rounds);
        if rated.is_empty() {
            return;
        }
        let scale = TEXT_W / chart::WIDTH;
        let height = chart::HEIGHT * scale;
        self.room(height + 10.0);
        let top = self.y - 6.0;
        // SVG y grows downwards; PDF y upwards.
        let at = |x: f64, y: f64| (MARGIN_X + x * scale, top - y * scale);
        let plot_w = chart::WIDTH - chart::LEFT - chart::RIGHT;
        for (from, to, rgb) in
            [(1.0, 3.5, (0.98, 0.91, 0.9)), (3.5, 6.5, (0.95, 0.95, 0.95)), (6.5, 9.0, (0.91, 0.96, 0.91))]
        {
            let (x, y_top) = at(chart::LEFT, chart::y_of(to));
            let (_, y_bottom) = at(chart::LEFT, chart::y_of(from));
            self.fill_rect(x, y_bottom, plot_w * scale, y_top - y_bottom, rgb);
        }
        for rating in 1..=9 {
            let (x, y) = at(chart::LEFT, chart::y_of(f64::from(rating)));
            self.show(x - 12.0, y - 3.0, &rating.to_string(), Face::Regular, 8.0);
        }
        let count = rated.len();
        let round_width = plot_w / count as f64;
        let mut previous: Option<(f64, f64)> = None;
        for (i, round) in rated.iter().enumerate() {
            let cx = chart::x_of(i, count);
            if let Some((q1, q3)) = round.quartiles {
                let half = (round_width * 0.35).min(40.0);
                let (x, y_top) = at(cx - half, chart::y_of(q3));
                let (_, y_bottom) = at(cx - half, chart::y_of(q1));
                self.fill_rect(x, y_bottom, 2.0 * half * scale, (y_top - y_bottom).max(1.5), (0.71, 0.85, 0.97));
            }
            if let Some(median) = round.median {
                let point = at(cx, chart::y_of(median));
                if let Some(from) = previous {
                    self.line(from, point, 1.5, (0.08, 0.4, 0.75));
                }
                self.fill_rect(point.0 - 3.0, point.1 - 3.0, 6.0, 6.0, (0.08, 0.4, 0.75));
                previous = Some(point);
            }
            for (position, p) in round.ratings.iter().enumerate() {
                let dx = chart::spread(position, round.ratings.len(), round_width);
                let (x, y) = at(cx + dx, chart::y_of(f64::from(p.rating)));
                self.line((x - 2.5, y), (x + 2.5, y), 1.2, (0.2, 0.2, 0.2));
                self.line((x, y - 2.5), (x, y + 2.5), 1.2, (0.2, 0.2, 0.2));
            }
            let (x, y) = at(cx, chart::HEIGHT - chart::BOTTOM + 18.0);
            let label = match round.median {
                Some(m) => format!("Round {}: median {}", round.round, figure(m)),
                None => format!("Round {}", round.round),
            };
            self.show(x - text_width(&label, Face::Regular, 8.0) / 2.0, y, &label, Face::Regular, 8.0);
        }
        self.y = top - height - 4.0;
        self.paragraph(
            "Ratings by round: each member a cross, the median a line, the interquartile range a band; shaded: against (1-3), undecided (4-6), for (7-9).",
            Face::Italic,
            8.0,
            0.0,
        );
    }

    fn finish(mut self) -> Vec<Vec<Operation>> {
        if !self.ops.is_empty() || self.done.is_empty() {
            self.done.push(self.ops);
        }
        self.done
    }
}

/// The report as PDF bytes.
pub fn render(report: &Report) -> Result<Vec<u8>, lopdf::Error> {
    let mut p = Pages::new();
    if let Some(brand) = &report.branding {
        let rgb = super::ReportBranding::rgb(&brand.primary_color);
        p.paragraph(&brand.display_name, Face::Bold, 12.0, 0.0);
        p.line((MARGIN_X, p.y), (MARGIN_X + TEXT_W, p.y), 3.0, rgb);
        p.y -= 12.0;
    }
    p.paragraph("Panel report", Face::Bold, 18.0, 0.0);
    p.paragraph(&format!("Question: {}", report.query.trim()), Face::Bold, 11.0, 0.0);
    p.paragraph(&format!("{} · panel {}", words::meta_line(report), report.panel_id), Face::Regular, 8.5, 0.0);
    if let Some((relation, parent)) = words::relation(report) {
        p.paragraph(&format!("{relation} of panel {parent}."), Face::Regular, 8.5, 0.0);
    }
    if !report.status.is_terminal() {
        p.paragraph(words::NOT_FINISHED, Face::Italic, 10.0, 0.0);
    }
    if let Some(error) = &report.error {
        p.paragraph(&format!("The panel failed: {}", error.trim()), Face::Italic, 10.0, 0.0);
    }

    p.heading("Recommendation", 13.0);
    match &report.recommendation {
        Some(r) => {
            p.paragraph(&r.text, Face::Regular, 10.5, 0.0);
            p.heading("Conditions", 11.0);
            if r.conditions.is_empty() {
                p.paragraph(words::NO_CONDITIONS, Face::Italic, 10.0, 0.0);
            }
            for c in &r.conditions {
                p.paragraph(&format!("• {c}"), Face::Regular, 10.0, 10.0);
            }
        }
        None => p.paragraph(words::NO_RECOMMENDATION, Face::Italic, 10.0, 0.0),
    }
    if let Some(v) = &report.verdict {
        p.heading("Verdict", 13.0);
        p.paragraph(&words::verdict_line(v), Face::Bold, 10.0, 0.0);
        p.paragraph(&v.rationale, Face::Regular, 10.0, 0.0);
    }

    p.heading("Agreement", 13.0);
    match &report.outcome {
        Some(o) => {
            p.paragraph(&words::outcome_line(o), Face::Bold, 10.0, 0.0);
            p.paragraph(&o.explanation, Face::Regular, 10.0, 0.0);
        }
        None => p.paragraph(words::NO_OUTCOME, Face::Italic, 10.0, 0.0),
    }
    p.heading("Dissent", 11.0);
    if report.dissent.is_empty() {
        p.paragraph(words::NO_DISSENT, Face::Italic, 10.0, 0.0);
    }
    for d in &report.dissent {
        p.paragraph(&words::dissent_head(d), Face::Bold, 10.0, 0.0);
        p.paragraph(&d.argument, Face::Italic, 10.0, 14.0);
    }

    p.heading("Rounds", 13.0);
    p.chart(report);
    let widths = [42.0, 70.0, 46.0, 40.0, 40.0, 26.0, 76.0, 56.0, 87.0];
    let head: Vec<String> = ROUND_COLUMNS.iter().map(|s| s.to_string()).collect();
    p.row(&head, &widths, Face::Bold, 9.0);
    for r in &report.rounds {
        p.row(&words::round_cells(r), &widths, Face::Regular, 9.0);
    }

    p.heading("Members", 13.0);
    for m in &report.members {
        let cells = words::member_cells(m);
        let line: Vec<&str> = cells.iter().map(String::as_str).filter(|c| !c.is_empty()).collect();
        p.paragraph(&line.join(" · "), Face::Regular, 10.0, 0.0);
    }

    if !report.sources.is_empty() {
        p.heading("Sources cited", 13.0);
        for s in &report.sources {
            p.paragraph(&words::source_line(s), Face::Regular, 10.0, 0.0);
        }
    }

    p.heading("Transcript", 13.0);
    for round in &report.transcript {
        p.heading(&format!("Round {}: {}", round.round, words::phase_label(&round.phase)), 11.0);
        for t in &round.turns {
            p.room(40.0);
            p.paragraph(&words::turn_head(t), Face::Bold, 10.0, 0.0);
            p.paragraph(&t.text, Face::Regular, 10.0, 0.0);
        }
        for s in &round.skipped {
            p.paragraph(&format!("{}'s turn was skipped: {}.", s.name, s.reason), Face::Italic, 9.5, 0.0);
        }
    }

    p.heading("Configuration and usage", 13.0);
    for line in words::config_lines(report) {
        p.paragraph(&line, Face::Regular, 10.0, 0.0);
    }
    p.paragraph(&words::generated_line(report), Face::Italic, 8.5, 0.0);
    assemble(p.finish(), &report.query)
}

/// The document: a catalog, a page tree, fonts, and one content stream a
/// page with its number at the foot.
fn assemble(pages: Vec<Vec<Operation>>, title: &str) -> Result<Vec<u8>, lopdf::Error> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = |name: &str| -> Dictionary {
        dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => Object::Name(name.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        }
    };
    let f1 = doc.add_object(font("Helvetica"));
    let f2 = doc.add_object(font("Helvetica-Bold"));
    let f3 = doc.add_object(font("Helvetica-Oblique"));
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => f1, "F2" => f2, "F3" => f3 },
    });
    let total = pages.len();
    let mut kids = Vec::with_capacity(total);
    for (i, mut ops) in pages.into_iter().enumerate() {
        let footer = format!("Page {} of {total}", i + 1);
        let bytes: Vec<u8> = footer.chars().map(win_ansi).collect();
        ops.extend([
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec![Object::Name(b"F1".to_vec()), 8.into()]),
            Operation::new("Td", vec![(PAGE_W - MARGIN_X - text_width(&footer, Face::Regular, 8.0)).into(), 30.into()]),
            Operation::new("Tj", vec![Object::String(bytes, StringFormat::Literal)]),
            Operation::new("ET", vec![]),
        ]);
        let content = Content { operations: ops };
        let mut stream = Stream::new(dictionary! {}, content.encode()?);
        // Compression is best effort: an uncompressed stream is still valid.
        let _ = stream.compress();
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), PAGE_W.into(), PAGE_H.into()],
        });
        kids.push(Object::from(page_id));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => total as i64,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    // The Info dictionary's strings are PDFDocEncoding: ASCII is the same in both.
    let title_bytes: Vec<u8> = format!("Panel report: {}", super::excerpt(title, 120).replace('…', "..."))
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c as u8 } else { b'?' })
        .collect();
    let info = doc.add_object(dictionary! {
        "Title" => Object::String(title_bytes, StringFormat::Literal),
        "Producer" => Object::string_literal("askpanel"),
    });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}
