//! A phone screen as plain data, rendered to the PNG that `adb exec-out screencap -p` returns.

use std::fmt;

/// A rectangle on the screen, in pixels from the top-left corner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// One message of the conversation shown on screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenMessage {
    /// Sent by this phone (right-aligned) rather than received (left-aligned).
    pub outgoing: bool,
    /// The message body.
    pub text: String,
    /// Small print under the body: time, delivery ticks.
    pub detail: String,
}

/// Everything the phone shows at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screen {
    /// Width in pixels, e.g. 720.
    pub width: u32,
    /// Height in pixels, e.g. 1600.
    pub height: u32,
    /// Status bar text, e.g. "12:04  Wi-Fi matador-a  10.77.1.23".
    pub status_bar: String,
    /// App name, or "Home" / "Airplane mode".
    pub title: String,
    /// The conversation, oldest first.
    pub messages: Vec<ScreenMessage>,
    /// Text typed into the input field so far.
    pub draft: String,
    /// What was done last, e.g. "tap 650,1500 -> send".
    pub last_action: String,
    /// Where the app's text field is, if it has one.
    pub text_field: Option<Rect>,
    /// Where the app's send button is, if it has one.
    pub send_button: Option<Rect>,
    /// Whether the text field has the input focus.
    pub focused_field: bool,
}

/// Why a screen could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenError {
    /// Width or height is zero or larger than a phone screen can be.
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The PNG encoder failed.
    Encode(String),
}

impl fmt::Display for ScreenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Size { width, height } => write!(f, "unsupported screen size {width}x{height}"),
            Self::Encode(e) => write!(f, "png encoding failed: {e}"),
        }
    }
}

impl std::error::Error for ScreenError {}

/// Largest side accepted; larger than any phone, small enough to bound memory.
pub const MAX_SIDE: u32 = 8192;
/// Largest pixel count accepted (16 MiB of indexed pixels).
const MAX_PIXELS: u64 = 16 << 20;
/// Hard cap on characters taken from any one string, whatever the screen size.
const MAX_CHARS: usize = 20_000;
/// Hint shown in an empty text field.
const HINT: &str = "Type a message";

// Palette indices; flat colours keep the PNG tiny and the pixel tests exact.
const BG: u8 = 0;
const DARK: u8 = 1;
const WHITE: u8 = 2;
const ACCENT: u8 = 3;
const OUT_BUBBLE: u8 = 4;
const INK: u8 = 5;
const MUTED: u8 = 6;
const BORDER: u8 = 7;
const FOOTER: u8 = 8;
const STATUS_FG: u8 = 9;
const PALETTE: [[u8; 3]; 10] = [
    [0xEC, 0xEF, 0xF3], // BG
    [0x1B, 0x1F, 0x24], // DARK
    [0xFF, 0xFF, 0xFF], // WHITE
    [0x1F, 0x5F, 0xC8], // ACCENT
    [0xD4, 0xF4, 0xC4], // OUT_BUBBLE
    [0x14, 0x17, 0x1A], // INK
    [0x6B, 0x72, 0x80], // MUTED
    [0xA8, 0xB0, 0xBA], // BORDER
    [0xD9, 0xDE, 0xE4], // FOOTER
    [0xE6, 0xE9, 0xED], // STATUS_FG
];

/// Glyph code for a check mark, so delivery ticks in `detail` are not drawn as '?'.
const TICK: u8 = 0x80;
const TICK_GLYPH: [u8; 8] = [0x00, 0x40, 0x60, 0x31, 0x1B, 0x0E, 0x04, 0x00];

/// Renders the screen as an 8-bit indexed PNG of exactly `width` x `height` pixels.
pub fn render_png(screen: &Screen) -> Result<Vec<u8>, ScreenError> {
    let (w, h) = (screen.width, screen.height);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS
    {
        return Err(ScreenError::Size {
            width: w,
            height: h,
        });
    }
    let mut canvas = Canvas::new(w, h);
    draw(&mut canvas, screen);
    encode(&canvas)
}

/// Width and height from a PNG's IHDR chunk, or `None` if `png` does not start like a PNG.
pub fn png_dimensions(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];
    let head = png.get(..24)?;
    if head[..8] != SIGNATURE || head[8..12] != [0, 0, 0, 13] || &head[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (w, h) = (be(&head[16..20]), be(&head[20..24]));
    (w > 0 && h > 0).then_some((w, h))
}

/// Sizes derived from the screen width, so a 720 px phone and a 1440 px one look alike.
struct Metrics {
    /// Pixels per density-independent unit (2 on a 720 px wide screen).
    dp: i64,
    /// Glyph scale of message, title and field text.
    body: i64,
    /// Glyph scale of status bar, footer and bubble details.
    small: i64,
}

impl Metrics {
    fn new(width: u32) -> Self {
        let body = i64::from(width / 240).max(1);
        Self {
            dp: i64::from(width / 360).max(1),
            body,
            small: (body - 1).max(1),
        }
    }
    /// Line pitch: glyph height plus room for the 8x8 font's descenders to breathe.
    fn line(&self, scale: i64) -> i64 {
        scale * 11
    }
}

fn draw(c: &mut Canvas, s: &Screen) {
    let m = Metrics::new(s.width);
    let (w, h) = (i64::from(s.width), i64::from(s.height));
    c.fill(0, 0, w, h, BG);

    let status_h = 24 * m.dp;
    bar(c, (0, status_h), (DARK, STATUS_FG), &s.status_bar, m.small);
    let title_h = 56 * m.dp;
    bar(
        c,
        (status_h, title_h),
        (ACCENT, WHITE),
        &s.title,
        m.body + 1,
    );
    let footer_h = m.line(m.small) + 6 * m.dp;
    let footer_y = h - footer_h;
    bar(
        c,
        (footer_y, footer_h),
        (FOOTER, MUTED),
        &s.last_action,
        m.small,
    );

    // The conversation ends above whichever control sits highest, like a real chat app.
    let controls_top = [s.text_field, s.send_button]
        .iter()
        .flatten()
        .map(|r| i64::from(r.y))
        .fold(footer_y, i64::min);
    let top = status_h + title_h;
    let bottom = controls_top - 8 * m.dp;
    c.clip_y = (top, bottom);
    draw_conversation(c, &m, &s.messages, (top, bottom));
    c.clip_y = (0, h);

    if let Some(r) = s.text_field {
        draw_field(c, &m, r, &s.draft, s.focused_field);
    }
    if let Some(r) = s.send_button {
        draw_send(c, &m, r);
    }
}

/// A full-width strip with one line of text, inset by one glyph and cut with "..." if too long.
fn bar(c: &mut Canvas, (y, h): (i64, i64), (bg, fg): (u8, u8), text: &str, scale: i64) {
    let w = i64::from(c.w);
    c.fill(0, y, w, h, bg);
    let glyphs = sanitize(text, ((w - 16 * scale) / (8 * scale)).max(0) as usize);
    c.text(8 * scale, y + (h - 8 * scale) / 2, &glyphs, scale, fg);
}

fn draw_conversation(
    c: &mut Canvas,
    m: &Metrics,
    messages: &[ScreenMessage],
    (top, bottom): (i64, i64),
) {
    let w = i64::from(c.w);
    let (pad_x, pad_y, margin, gap) = (10 * m.dp, 8 * m.dp, 8 * m.dp, 6 * m.dp);
    let max_w = (w * 3 / 4).min(w - 2 * margin);
    let body_line = m.line(m.body);
    let small_line = m.line(m.small);
    let cols = ((max_w - 2 * pad_x) / (8 * m.body)).max(1) as usize;
    let detail_cols = ((max_w - 2 * pad_x) / (8 * m.small)).max(1) as usize;
    // Enough characters to fill the whole area: the rest could never be seen.
    let budget = cols * ((bottom - top).max(0) / body_line + 1) as usize;
    let mut y = bottom;
    for msg in messages.iter().rev() {
        if y <= top {
            break;
        }
        let text = sanitize(&msg.text, budget.min(MAX_CHARS));
        let lines = wrap(&text, cols);
        let detail = sanitize(&msg.detail, detail_cols);
        let text_w = lines.iter().map(|l| l.len()).max().unwrap_or(0) as i64 * 8 * m.body;
        let detail_w = detail.len() as i64 * 8 * m.small;
        let bubble_w = text_w.max(detail_w) + 2 * pad_x;
        let detail_h = if detail.is_empty() { 0 } else { small_line };
        let bubble_h = lines.len() as i64 * body_line + detail_h + 2 * pad_y - 3 * m.body;
        let (x, colour) = match msg.outgoing {
            true => (w - margin - bubble_w, OUT_BUBBLE),
            false => (margin, WHITE),
        };
        let by = y - bubble_h;
        c.round_fill(x, by, bubble_w, bubble_h, 8 * m.dp, colour);
        for (i, line) in lines.iter().enumerate() {
            let ly = by + pad_y + i as i64 * body_line;
            c.text(x + pad_x, ly, line, m.body, INK);
        }
        if !detail.is_empty() {
            let dx = x + bubble_w - pad_x - detail_w;
            let dy = by + pad_y + lines.len() as i64 * body_line;
            c.text(dx, dy, &detail, m.small, MUTED);
        }
        y = by - gap;
    }
}

fn draw_field(c: &mut Canvas, m: &Metrics, r: Rect, draft: &str, focused: bool) {
    let [x, y, w, h] = [r.x, r.y, r.w, r.h].map(i64::from);
    let radius = (h / 2).min(24 * m.dp);
    let border = if focused { 2 * m.dp } else { m.dp };
    c.round_fill(x, y, w, h, radius, if focused { ACCENT } else { BORDER });
    let (inner_w, inner_h) = (w - 2 * border, h - 2 * border);
    c.round_fill(
        x + border,
        y + border,
        inner_w,
        inner_h,
        radius - border,
        WHITE,
    );

    let pad = 6 * m.dp + radius / 2;
    let line_h = m.line(m.body);
    let cols = ((w - 2 * pad) / (8 * m.body)).max(1) as usize;
    let rows = ((h - 2 * m.dp * 4) / line_h).max(1) as usize;
    let (lines, colour) = if draft.is_empty() {
        (vec![sanitize(HINT, cols)], MUTED)
    } else {
        // The caret is at the end, so the end of a long draft is what shows.
        let tail = sanitize_tail(
            draft,
            cols.saturating_mul(rows).saturating_mul(2).min(MAX_CHARS),
        );
        let wrapped = wrap(&tail, cols);
        let skip = wrapped.len().saturating_sub(rows);
        (wrapped[skip..].iter().map(|l| l.to_vec()).collect(), INK)
    };
    let text_h = lines.len() as i64 * line_h - 3 * m.body;
    let ty = y + (h - text_h) / 2;
    for (i, line) in lines.iter().enumerate() {
        c.text(x + pad, ty + i as i64 * line_h, line, m.body, colour);
    }
    if focused {
        let last = lines
            .last()
            .filter(|_| !draft.is_empty())
            .map_or(0, Vec::len);
        let cx = x + pad + last as i64 * 8 * m.body + m.dp;
        let cy = ty + (lines.len() as i64 - 1) * line_h - m.dp;
        c.fill(cx, cy, m.dp.max(2), 8 * m.body + 2 * m.dp, ACCENT);
    }
}

fn draw_send(c: &mut Canvas, m: &Metrics, r: Rect) {
    let [x, y, w, h] = [r.x, r.y, r.w, r.h].map(i64::from);
    c.round_fill(x, y, w, h, (h / 2).min(24 * m.dp), ACCENT);
    let label: &[u8] = if w >= 6 * 8 * m.body { b"Send" } else { b">" };
    let scale = if label.len() == 1 { m.body + 1 } else { m.body };
    let lx = x + (w - label.len() as i64 * 8 * scale) / 2;
    let ly = y + (h - 8 * scale) / 2;
    c.text(lx, ly, label, scale, WHITE);
}

/// Maps untrusted text to glyph codes, at most `max` of them, ending in "..." if it was longer.
fn sanitize(s: &str, max: usize) -> Vec<u8> {
    let mut out: Vec<u8> = s
        .chars()
        .take(max.saturating_add(1))
        .map(glyph_code)
        .collect();
    if out.len() > max {
        out.truncate(max.saturating_sub(3));
        out.extend_from_slice(&b"..."[..max.min(3)]);
    }
    out
}

/// Like `sanitize` but keeps the last `max` characters.
fn sanitize_tail(s: &str, max: usize) -> Vec<u8> {
    let mut out: Vec<u8> = s.chars().rev().take(max).map(glyph_code).collect();
    out.reverse();
    out
}

fn glyph_code(ch: char) -> u8 {
    match ch {
        ' '..='~' => ch as u8,
        '\u{2713}' | '\u{2714}' => TICK,
        _ => b'?',
    }
}

/// Greedy word wrap to `cols` glyphs; words longer than a line are split.
fn wrap(text: &[u8], cols: usize) -> Vec<&[u8]> {
    let cols = cols.max(1);
    let mut lines = Vec::new();
    let mut rest = text;
    while rest.len() > cols {
        let cut = match rest[..=cols].iter().rposition(|&b| b == b' ') {
            Some(i) if i > 0 => i,
            _ => cols,
        };
        lines.push(&rest[..cut]);
        rest = &rest[cut..];
        let spaces = rest.iter().take_while(|&&b| b == b' ').count();
        rest = &rest[spaces..];
    }
    if !rest.is_empty() || lines.is_empty() {
        lines.push(rest);
    }
    lines
}

/// Palette-indexed pixels; every drawing call is clipped, so layout maths may overshoot freely.
struct Canvas {
    w: u32,
    h: u32,
    px: Vec<u8>,
    /// Rows outside `start..end` are left alone, so bubbles scroll under the title bar.
    clip_y: (i64, i64),
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        let px = vec![BG; w as usize * h as usize];
        Self {
            w,
            h,
            px,
            clip_y: (0, i64::from(h)),
        }
    }

    fn fill(&mut self, x: i64, y: i64, w: i64, h: i64, colour: u8) {
        let x0 = x.max(0);
        let y0 = y.max(self.clip_y.0).max(0);
        let x1 = x.saturating_add(w).min(i64::from(self.w));
        let y1 = y
            .saturating_add(h)
            .min(self.clip_y.1)
            .min(i64::from(self.h));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let stride = self.w as usize;
        for row in y0 as usize..y1 as usize {
            self.px[row * stride + x0 as usize..row * stride + x1 as usize].fill(colour);
        }
    }

    /// Fills a rectangle with corners rounded to radius `r`.
    fn round_fill(&mut self, x: i64, y: i64, w: i64, h: i64, r: i64, colour: u8) {
        if w <= 0 || h <= 0 {
            return;
        }
        let r = r.clamp(0, w.min(h) / 2);
        self.fill(x, y + r, w, h - 2 * r, colour);
        for dy in 0..r {
            let d = (r - dy) as f32 - 0.5;
            let inset = r - ((r * r) as f32 - d * d).max(0.0).sqrt().round() as i64;
            self.fill(x + inset, y + dy, w - 2 * inset, 1, colour);
            self.fill(x + inset, y + h - 1 - dy, w - 2 * inset, 1, colour);
        }
    }

    fn text(&mut self, x: i64, y: i64, glyphs: &[u8], scale: i64, colour: u8) {
        for (i, &code) in glyphs.iter().enumerate() {
            let gx = x + i as i64 * 8 * scale;
            if gx >= i64::from(self.w) {
                break;
            }
            let bitmap = match code {
                TICK => TICK_GLYPH,
                c => font8x8::legacy::BASIC_LEGACY[usize::from(c & 0x7F)],
            };
            for (row, bits) in bitmap.iter().enumerate() {
                for col in 0..8 {
                    // font8x8 stores the leftmost pixel in the lowest bit.
                    if bits >> col & 1 == 1 {
                        let (px, py) = (gx + col * scale, y + row as i64 * scale);
                        self.fill(px, py, scale, scale, colour);
                    }
                }
            }
        }
    }
}

fn encode(c: &Canvas) -> Result<Vec<u8>, ScreenError> {
    let err = |e: png::EncodingError| ScreenError::Encode(e.to_string());
    let mut out = Vec::with_capacity(16 * 1024);
    let mut enc = png::Encoder::new(&mut out, c.w, c.h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(PALETTE.concat());
    // ~4 ms and ~14 KB for a 720x1600 chat; `Fast` saves 3 ms but makes every kept step 60% bigger.
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(&c.px).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
