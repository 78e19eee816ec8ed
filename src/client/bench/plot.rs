//! `bench --plot FILE.svg`: latency by percentile as a hand-written SVG,
//! the picture HdrHistogram's plotter draws: the x axis stretches the tail
//! (1/(1-p) on a log scale), so p99.9 gets as much room as p50.

use std::fmt::Write;

/// Width and height of the drawing area, in SVG units.
const W: f64 = 720.0;
const H: f64 = 360.0;
/// Margin for the axes' labels.
const M: f64 = 60.0;
/// The right edge of the x axis: 99.9999%.
const X_DECADES: f64 = 6.0;

/// Draws `points` (quantile 0..=1, microseconds) with `title` above.
pub fn svg(points: &[(f64, f64, u64)], title: &str) -> String {
    let max_us = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let y_top = nice_ceiling(max_us);
    // Position along x: log10(1/(1-q)), capped at X_DECADES.
    let x = |q: f64| {
        let d = if q >= 1.0 {
            X_DECADES
        } else {
            (1.0 / (1.0 - q)).log10().min(X_DECADES)
        };
        M + d / X_DECADES * W
    };
    let y = |us: f64| M + H - us / y_top * H;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">"#,
        W + 2.0 * M,
        H + 2.0 * M
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{M}" y="{}" font-size="14">{}</text>"#,
        M / 2.0,
        escape(title)
    );
    // Axes, grid and labels.
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .enumerate()
    {
        let gx = M + i as f64 / X_DECADES * W;
        let _ = writeln!(
            s,
            r##"<line x1="{gx}" y1="{M}" x2="{gx}" y2="{}" stroke="#ddd"/>"##,
            M + H
        );
        let _ = writeln!(
            s,
            r#"<text x="{gx}" y="{}" text-anchor="middle">{label}</text>"#,
            M + H + 18.0
        );
    }
    for i in 0..=4 {
        let us = y_top * f64::from(i) / 4.0;
        let gy = y(us);
        let _ = writeln!(
            s,
            r##"<line x1="{M}" y1="{gy}" x2="{}" y2="{gy}" stroke="#ddd"/>"##,
            M + W
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            M - 6.0,
            gy + 4.0,
            crate::stats::fmt_us(us)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text>"#,
        M + W / 2.0,
        M + H + 40.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">latency</text>"#,
        M + H / 2.0,
        M + H / 2.0
    );
    let path: Vec<String> = points
        .iter()
        .map(|&(q, us, _)| format!("{:.1},{:.1}", x(q), y(us)))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        path.join(" ")
    );
    s.push_str("</svg>\n");
    s
}

/// 1, 2 or 5 times a power of ten, at or above `v`: round axis ends.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_line_through_every_point_within_the_frame() {
        let pts = [
            (0.0, 10.0, 1),
            (0.5, 20.0, 50),
            (0.99, 80.0, 99),
            (1.0, 95.0, 100),
        ];
        let out = svg(&pts, "a <test>");
        assert!(out.starts_with("<svg") && out.ends_with("</svg>\n"));
        assert!(out.contains("a &lt;test&gt;"));
        let line = out
            .lines()
            .find(|l| l.starts_with("<polyline"))
            .unwrap_or_default();
        assert_eq!(line.matches(',').count(), 4, "{line}");
        assert_eq!(nice_ceiling(95.0), 100.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
    }
}
