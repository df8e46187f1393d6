//! A text as a QR code, for a phone's camera: as Unicode art in the terminal and as a PNG.
//! Pure: the caller prints and writes.

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code on every side, as ISO/IEC 18004 asks; scanners that find no
/// quiet zone miss the finder patterns.
pub const QUIET_ZONE: usize = 4;
/// Pixels per module in the PNG: about 600 px for a WireGuard profile, sharp on screen and
/// on paper.
pub const PNG_SCALE: usize = 8;

/// Why a text could not become a QR code or a PNG.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code (2953 bytes at level L).
    #[error("{len} bytes do not fit in a QR code: {source}")]
    TooLong {
        /// The text's length.
        len: usize,
        /// The encoder's reason.
        source: qrcode::types::QrError,
    },
    /// The PNG encoder failed (it writes to memory, so only on a bug).
    #[error("PNG encoding: {0}")]
    Png(#[from] png::EncodingError),
}

/// A QR code's modules, without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qr {
    width: usize,
    dark: Vec<bool>,
}

/// How terminal art is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colours {
    /// ANSI black on bright white, so the code is dark-on-light whatever the terminal's theme
    /// (scanners expect dark modules; many read an inverted code badly or not at all).
    Ansi,
    /// No escape codes (output to a file or a pipe): dark modules as ink, as on paper.
    Plain,
}

impl Qr {
    /// `text` as a QR code, byte mode where needed, error correction level L: the smallest
    /// code (a WireGuard profile fits in 80 terminal columns), as `qrencode` makes by default
    /// for the same profiles; a screen or a print has no dirt to correct.
    pub fn encode(text: &str) -> Result<Self, QrError> {
        let code = QrCode::with_error_correction_level(text, EcLevel::L).map_err(|source| {
            QrError::TooLong {
                len: text.len(),
                source,
            }
        })?;
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        Ok(Self {
            width: code.width(),
            dark,
        })
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; outside the code (the quiet zone)
    /// every module is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Modules per side with the quiet zone.
    pub fn framed_width(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// Whether a module of the framed code (quiet zone included, so coordinates start at the
    /// zone's corner) is dark.
    fn framed_dark(&self, x: usize, y: usize) -> bool {
        match (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) {
            (Some(x), Some(y)) => self.is_dark(x, y),
            _ => false,
        }
    }
}

/// The code as terminal art: one character cell per module column and two module rows (Unicode
/// half blocks), the quiet zone included, each line ending in `\n`. With an odd number of
/// module rows the last line's lower half is light, one more row of quiet zone.
pub fn terminal_art(qr: &Qr, colours: Colours) -> String {
    let side = qr.framed_width();
    let mut out = String::with_capacity(side * (side / 2 + 1) * 4);
    for top in (0..side).step_by(2) {
        if colours == Colours::Ansi {
            // Black foreground, bright white background for the whole line.
            out.push_str("\x1b[30;107m");
        }
        for x in 0..side {
            out.push(match (qr.framed_dark(x, top), qr.framed_dark(x, top + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if colours == Colours::Ansi {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    out
}

/// The code as an 8-bit greyscale PNG, [`PNG_SCALE`] pixels per module, the quiet zone
/// included: black modules on white.
pub fn png(qr: &Qr) -> Result<Vec<u8>, QrError> {
    let side = qr.framed_width() * PNG_SCALE;
    let mut pixels = Vec::with_capacity(side * side);
    for py in 0..side {
        for px in 0..side {
            let dark = qr.framed_dark(px / PNG_SCALE, py / PNG_SCALE);
            pixels.push(if dark { 0 } else { 255 });
        }
    }
    // A QR code is at most 177 + 8 modules: the side always fits in a u32.
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(bytes)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const TEXT: &str = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n\
                        Address = 10.99.0.2/32\n";

    /// Reads the one QR code in a greyscale image back to its text.
    pub fn read_back(width: usize, height: usize, grey: impl Fn(usize, usize) -> u8) -> String {
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, grey);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code expected");
        grids[0].decode().expect("decodable").1
    }

    /// The text of the one QR code in a PNG; its side in pixels.
    pub fn read_png(bytes: &[u8]) -> (String, usize) {
        let (buf, side) = decode_png(bytes);
        (read_back(side, side, |x, y| buf[y * side + x]), side)
    }

    fn decode_png(bytes: &[u8]) -> (Vec<u8>, usize) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::Eight)
        );
        assert_eq!(info.width, info.height);
        (buf, info.width as usize)
    }

    #[test]
    fn the_png_decodes_back_to_the_text() {
        let qr = Qr::encode(TEXT).unwrap();
        let bytes = png(&qr).unwrap();
        let (buf, got_side) = decode_png(&bytes);
        let side = qr.framed_width() * PNG_SCALE;
        assert_eq!(got_side, side);
        // The quiet zone is white all round.
        let zone = QUIET_ZONE * PNG_SCALE;
        for i in 0..side {
            for j in 0..zone {
                for (x, y) in [(i, j), (j, i), (i, side - 1 - j), (side - 1 - j, i)] {
                    assert_eq!(buf[y * side + x], 255, "quiet zone at {x},{y}");
                }
            }
        }
        assert_eq!(read_png(&bytes).0, TEXT);
    }

    #[test]
    fn the_terminal_art_has_its_size_and_quiet_zone_and_scans() {
        let qr = Qr::encode(TEXT).unwrap();
        let side = qr.framed_width();
        let art = terminal_art(&qr, Colours::Plain);
        let lines: Vec<Vec<char>> = art.lines().map(|l| l.chars().collect()).collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(lines.iter().all(|l| l.len() == side));
        // Two lines (four module rows) of quiet zone on top, at least as many below, four
        // columns on either side.
        for l in lines[..2].iter().chain(&lines[lines.len() - 2..]) {
            assert!(l.iter().all(|&c| c == ' '));
        }
        for l in &lines {
            assert!(l[..QUIET_ZONE]
                .iter()
                .chain(&l[side - QUIET_ZONE..])
                .all(|&c| c == ' '));
        }
        // The half blocks back into modules, each module 4×4 pixels, then scanned.
        let module = |x: usize, y: usize| {
            let c = lines[y / 2][x];
            let dark = if y % 2 == 0 {
                matches!(c, '█' | '▀')
            } else {
                matches!(c, '█' | '▄')
            };
            if dark {
                0
            } else {
                255
            }
        };
        let px = side * 4;
        assert_eq!(read_back(px, px, |x, y| module(x / 4, y / 4)), TEXT);
    }

    #[test]
    fn ansi_art_is_black_on_white_line_by_line() {
        let qr = Qr::encode("x").unwrap();
        let art = terminal_art(&qr, Colours::Ansi);
        for line in art.lines() {
            assert!(
                line.starts_with("\x1b[30;107m") && line.ends_with("\x1b[0m"),
                "{line:?}"
            );
        }
        let plain = terminal_art(&qr, Colours::Plain);
        assert_eq!(
            art.replace("\x1b[30;107m", "").replace("\x1b[0m", ""),
            plain
        );
    }

    #[test]
    fn a_wireguard_profile_fits_eighty_columns_and_too_long_texts_are_errors() {
        // A profile is ~330 bytes with a long endpoint name: version 11 or 12 at level L.
        let qr = Qr::encode(&"a".repeat(330)).unwrap();
        assert!(qr.framed_width() <= 80, "{}", qr.framed_width());
        let e = Qr::encode(&"a".repeat(3000)).unwrap_err();
        assert!(e.to_string().starts_with("3000 bytes do not fit"), "{e}");
    }
}
