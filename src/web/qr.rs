//! The QR code printed for each asset: its page's URL encoded server-side as an inline
//! SVG (no script, no image crate), and the print-friendly page that shows it with the
//! asset's name and the URL as text. Touches nothing but the asset it names (by message).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::health::GetAsset;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::health_common::{answer, plain, reader, Head};
use crate::edge::render;
use crate::state::AppState;

/// The asset page's absolute URL as the person printing reaches it (scheme and host of
/// their request, or of `Forwarded` / `X-Forwarded-*` behind a proxy): a phone on the
/// same network opens that page, where the request form is.
pub fn asset_url(req: &HttpRequest, asset_id: &str) -> String {
    let info = req.connection_info();
    format!(
        "{}://{}/assets/{}",
        info.scheme(),
        info.host(),
        super::health_common::encode(asset_id)
    )
}

/// `payload` as an inline SVG QR code (error correction M, a quiet zone, at least 192
/// px), labelled for screen readers; `None` if it is too long for a QR code.
pub fn svg_of(payload: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(192, 192)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML declaration, with a role and a name.
    let start = image.find("<svg")?;
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    Some(format!(
        "<svg role=\"img\" aria-label=\"{label}\" class=\"qr\"{}",
        &image[start + 4..]
    ))
}

#[derive(Template)]
#[template(path = "asset_qr.html")]
struct QrPage {
    head: Head,
    asset_id: String,
    name: String,
    location: String,
    url: String,
    svg: String,
}

/// `/assets/{id}/qr`: the code, the asset's name and location, the URL, ready to print.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let detail = match answer(state.health.send(GetAsset(id.into_inner())).await) {
        Ok(detail) => detail,
        Err(p) => return plain(p),
    };
    let asset = detail.asset;
    let url = asset_url(&req, &asset.id);
    let svg = svg_of(&url, &format!("QR code of {}", asset.name)).unwrap_or_default();
    render(&QrPage {
        head: Head::of(&current),
        asset_id: asset.id,
        name: asset.name,
        location: asset.location.unwrap_or_default(),
        url,
        svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules of an SVG drawn by `svg_of`, from its path's `M x y h1 v1 h-1 z`
    /// squares, minus the quiet zone.
    fn modules_of(svg: &str, size: usize) -> Vec<Vec<bool>> {
        let d = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a path");
        let (w, _) = svg
            .split("width=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|w| (w.parse::<f64>().expect("width"), ()))
            .expect("width");
        let unit = w / (size + 8) as f64;
        let mut grid = vec![vec![false; size]; size];
        for square in d.split('M').filter(|s| !s.trim().is_empty()) {
            let mut n = square.split(|c: char| c == ' ' || c.is_ascii_alphabetic());
            let x: f64 = n.next().and_then(|v| v.parse().ok()).expect("x");
            let y: f64 = n.next().and_then(|v| v.parse().ok()).expect("y");
            let (col, row) = (
                (x / unit).round() as usize - 4,
                (y / unit).round() as usize - 4,
            );
            grid[row][col] = true;
        }
        grid
    }

    #[test]
    fn the_svg_draws_exactly_the_modules_of_the_asset_url() {
        let url = "http://plant.local:8080/assets/3f6c1a2e-0d7b-4c7e-9e43-2a1f0b9d5c11";
        let svg = svg_of(url, "QR code of Pump \"P-7\"").expect("svg");
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"QR code of Pump &quot;P-7&quot;\""));
        assert!(!svg.contains("<?xml"), "inline: no XML declaration");
        assert!(!svg.contains("style="), "nothing the CSP refuses");
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).expect("code");
        let size = code.width();
        let expected: Vec<Vec<bool>> = (0..size)
            .map(|y| {
                (0..size)
                    .map(|x| code[(x, y)] == qrcode::Color::Dark)
                    .collect()
            })
            .collect();
        assert_eq!(modules_of(&svg, size), expected);
        let other = svg_of("http://plant.local:8080/assets/other", "x").expect("svg");
        assert_ne!(svg, other);
    }
}
