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
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            title: d.day.clone(),
            axis: d.day.get(5..).unwrap_or(&d.day).to_owned(),
            values: [d.mono, d.color],
        })
        .collect();
    stacked(&Stacked {
        id: "chart-days",
        label: "Pages printed per day",
        series: ["black & white", "colour"],
        bars: &bars,
    })
}

/// One bar of a [`Stacked`] chart.
pub struct Bar {
    /// Shown on hover (`2026-11-20`).
    pub title: String,
    /// Under the bar, on every few bars (`11-20`, `14h`).
    pub axis: String,
    /// The two stacked values, bottom first.
    pub values: [u64; 2],
}

/// A bar chart of two stacked series over time.
pub struct Stacked<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub series: [&'a str; 2],
    pub bars: &'a [Bar],
}

/// Draws a [`Stacked`] chart.
pub fn stacked(chart: &Stacked) -> String {
    let (w, h, left, bottom, top) = (760.0, 240.0, 48.0, 28.0, 24.0);
    let plot_h = h - bottom - top;
    let max = nice_max(
        chart
            .bars
            .iter()
            .map(|b| b.values[0] + b.values[1])
            .max()
            .unwrap_or(0),
    );
    let n = chart.bars.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{l}" class="chart" id="{id}">"#,
        l = esc(chart.label),
        id = esc(chart.id)
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
    let every = (chart.bars.len() / 8).max(1);
    let base = top + plot_h;
    for (i, b) in chart.bars.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = base;
        for (value, (name, fill)) in b.values.iter().zip(chart.series.iter().zip([MONO, COLOR])) {
            let bh = plot_h * *value as f64 / max as f64;
            y -= bh;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bh:.1}" fill="{fill}"><title>{t}: {value} {name}</title></rect>"#,
                t = esc(&b.title),
                name = esc(name)
            );
        }
        if i % every == 0 {
            let _ = write!(
                s,
                r#"<text x="{cx:.1}" y="{ly:.1}" font-size="11" fill="{TEXT}" text-anchor="middle">{l}</text>"#,
                cx = x + bar / 2.0,
                ly = h - 10.0,
                l = esc(&b.axis)
            );
        }
    }
    let _ = write!(
        s,
        r#"<rect x="{left}" y="4" width="10" height="10" fill="{MONO}"/><text x="{a}" y="13" font-size="11" fill="{TEXT}">{s0}</text>"#,
        a = left + 14.0,
        s0 = esc(chart.series[0]),
    );
    // A chart of one series leaves the second name empty: no legend for it.
    if !chart.series[1].is_empty() {
        let _ = write!(
            s,
            r#"<rect x="{b}" y="4" width="10" height="10" fill="{COLOR}"/><text x="{c}" y="13" font-size="11" fill="{TEXT}">{s1}</text>"#,
            b = left + 130.0,
            c = left + 144.0,
            s1 = esc(chart.series[1])
        );
    }
    s.push_str("</svg>");
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
        assert!(svg.contains("2026-11-20: 3 black &amp; white"));
    }
}
