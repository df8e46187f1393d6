//! Inline SVG bar charts: per category, the network path's share next to the app's.

use super::html::esc;
use crate::analysis::tables::Share;
use std::fmt::Write as _;

/// Width of the label column, px.
const LABEL_W: usize = 230;
/// Width of a 100 % bar, px.
const BAR_W: usize = 320;
/// Height of one bar, px.
const BAR_H: usize = 13;
/// Colours of the network path's bars and the app's.
const COLOURS: [&str; 2] = ["#9aa5b1", "#2f6fb0"];

/// One category of a chart: its label and the two shares (network, app).
pub struct Category<'a> {
    /// Row label (region or group).
    pub label: String,
    /// The network path's share.
    pub network: &'a Share,
    /// The app's share, if it has measurements there.
    pub app: Option<&'a Share>,
}

/// A grouped horizontal bar chart, network vs app, 0–100 %.
pub fn bars(title: &str, app: &str, cats: &[Category<'_>]) -> String {
    let group_h = 2 * BAR_H + 10;
    let legend_h = 22;
    let height = legend_h + cats.len() * group_h + 20;
    let width = LABEL_W + BAR_W + 120;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" \
         font-size=\"11\"><title>{}</title>",
        esc(title)
    );
    // Legend.
    for (i, (name, colour)) in [("network path", COLOURS[0]), (app, COLOURS[1])]
        .iter()
        .enumerate()
    {
        let x = LABEL_W + i * 170;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"14\">{}</text>",
            x + 16,
            esc(name)
        );
    }
    for (i, c) in cats.iter().enumerate() {
        let y0 = legend_h + i * group_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8,
            y0 + BAR_H + 4,
            esc(&c.label)
        );
        for (k, share) in [Some(c.network), c.app].into_iter().enumerate() {
            let y = y0 + k * BAR_H;
            let pct = share.and_then(Share::percent);
            let w = pct.map_or(0.0, |p| p / 100.0 * BAR_W as f64);
            let label = match (pct, share) {
                (Some(p), Some(sh)) => format!("{p:.1}% ({}/{})", sh.hits, sh.measurements),
                _ => "no data".into(),
            };
            let _ = write!(
                s,
                "<rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{}</text>",
                BAR_H - 2,
                COLOURS[k],
                LABEL_W as f64 + w + 4.0,
                y + BAR_H - 3,
                esc(&label)
            );
        }
    }
    // The 0 and 100 % marks.
    let axis_y = legend_h + cats.len() * group_h + 2;
    let _ = write!(
        s,
        "<line x1=\"{LABEL_W}\" y1=\"{legend_h}\" x2=\"{LABEL_W}\" y2=\"{axis_y}\" \
         stroke=\"#555\"/><text x=\"{LABEL_W}\" y=\"{}\">0%</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">100%</text></svg>",
        axis_y + 12,
        LABEL_W + BAR_W,
        axis_y + 12
    );
    s
}
