//! Charts for the reports, drawn as SVG on the server: no script in the console, the same
//! picture in every browser, and an image a report can be saved with. Plain bar charts are
//! all the reports need, so they are drawn here rather than with a charting library.

use std::fmt::Write;

use super::Day;

const MONO: &str = "#0b3d63";
const COLOR: &str = "#e07b00";
const GRID: &str = "#d5dce4";
const TEXT: &str = "#3d4a58";

/// Text made safe for SVG (names come from the directory).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis top at or above `max`.
fn nice_max(max: u64) -> u64 {
    if max == 0 {
        return 10;
    }
    let mut step = 1u64;
    while step * 10 < max {
        step *= 10;
    }
    max.div_ceil(step) * step
}

/// Pages per day, black & white and colour stacked.
pub fn pages_per_day(days: &[Day]) -> String {
    let (w, h, left, bottom, top) = (760.0, 240.0, 48.0, 28.0, 24.0);
    let plot_h = h - bottom - top;
    let max = nice_max(days.iter().map(|d| d.mono + d.color).max().unwrap_or(0));
    let n = days.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="Pages printed per day" class="chart" id="chart-days">"#
    );
    for i in 0..=4 {
        let v = max * i / 4;
        let y = top + plot_h - plot_h * (i as f64) / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" y1="{y:.1}" x2="{w}" y2="{y:.1}" stroke="{GRID}"/><text x="{x:.1}" y="{ty:.1}" font-size="11" fill="{TEXT}" text-anchor="end">{v}</text>"#,
            x = left - 6.0,
            ty = y + 4.0
        );
    }
    let every = (days.len() / 8).max(1);
    for (i, d) in days.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mono_h = plot_h * d.mono as f64 / max as f64;
        let color_h = plot_h * d.color as f64 / max as f64;
        let base = top + plot_h;
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{mono_h:.1}" fill="{MONO}"><title>{day}: {m} black &amp; white</title></rect>"#,
            y = base - mono_h,
            day = esc(&d.day),
            m = d.mono
        );
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{color_h:.1}" fill="{COLOR}"><title>{day}: {c} colour</title></rect>"#,
            y = base - mono_h - color_h,
            day = esc(&d.day),
            c = d.color
        );
        if i % every == 0 {
            let label = d.day.get(5..).unwrap_or(&d.day);
            let _ = write!(
                s,
                r#"<text x="{cx:.1}" y="{ly:.1}" font-size="11" fill="{TEXT}" text-anchor="middle">{l}</text>"#,
                cx = x + bar / 2.0,
                ly = h - 10.0,
                l = esc(label)
            );
        }
    }
    let _ = write!(
        s,
        r#"<rect x="{left}" y="4" width="10" height="10" fill="{MONO}"/><text x="{a}" y="13" font-size="11" fill="{TEXT}">black &amp; white</text><rect x="{b}" y="4" width="10" height="10" fill="{COLOR}"/><text x="{c}" y="13" font-size="11" fill="{TEXT}">colour</text></svg>"#,
        a = left + 14.0,
        b = left + 110.0,
        c = left + 124.0
    );
    s
}

/// Horizontal bars, largest first (departments, users, devices).
pub fn ranking(id: &str, label: &str, items: &[(String, u64)]) -> String {
    let row = 22.0;
    let (w, left) = (520.0, 170.0);
    let h = (items.len().max(1) as f64) * row + 8.0;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{l}" class="chart" id="{id}">"#,
        l = esc(label),
        id = esc(id)
    );
    for (i, (name, v)) in items.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let bw = (w - left - 60.0) * (*v as f64) / max;
        let shown: String = name.chars().take(24).collect();
        let _ = write!(
            s,
            r#"<text x="{tx}" y="{ty:.1}" font-size="12" fill="{TEXT}" text-anchor="end">{n}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="{bh}" fill="{MONO}"/><text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="{TEXT}">{v}</text>"#,
            tx = left - 8.0,
            ty = y + 13.0,
            n = esc(&shown),
            bh = row - 6.0,
            vx = left + bw + 6.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_names_and_scale_to_round_numbers() {
        assert_eq!(nice_max(0), 10);
        assert_eq!(nice_max(7), 7);
        assert_eq!(nice_max(87), 90);
        assert_eq!(nice_max(1234), 2000);
        let svg = ranking("x", "Top", &[("<R&D>".into(), 3)]);
        assert!(svg.contains("&lt;R&amp;D&gt;") && !svg.contains("<R&D>"));
        let days = [Day {
            day: "2026-11-20".into(),
            mono: 3,
            color: 1,
        }];
        let svg = pages_per_day(&days);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2026-11-20: 3 black"));
    }
}
