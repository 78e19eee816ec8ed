//! The QR code `sockit share` prints under a link on a terminal, so a
//! phone can pick the link up: text, two modules per character (Unicode
//! half blocks), dark on light with the standard quiet zone.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

/// The QR code of `link` as lines of text, or `None` when it cannot be
/// encoded (far longer than any link).
pub fn render(link: &str) -> Option<String> {
    let code = QrCode::new(link.as_bytes()).ok()?;
    let mut text = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    text.push('\n');
    Some(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_renders_as_a_square_of_half_blocks() {
        let qr = super::render("http://127.0.0.1:8080/s/0123456789abcdef0123456789abcdef").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        let width = lines[0].chars().count();
        assert!(width >= 25 && lines.iter().all(|l| l.chars().count() == width));
        // Two modules per character: about half as many lines as columns.
        assert!(lines.len() * 2 >= width && lines.len() * 2 <= width + 2);
    }
}
