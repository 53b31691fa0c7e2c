//! The web console's static assets, compiled into the binary so the admin listener can
//! serve them with no files on disk, no build step and nothing fetched from elsewhere.
//!
//! The console is one HTML page plus CSS and vanilla JavaScript modules under `web/`,
//! served at the same relative paths; it reads everything from the admin listener's JSON
//! API (`/api/...`). The HTTP server lives in the broker; this crate only answers "what
//! bytes, with what type, for a path".

/// One embedded file and the `Content-Type` to serve it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The page served for `/` (and `index.html`).
pub const INDEX_PATH: &str = "index.html";

/// Every embedded file by its request path (relative to the console root), so a missing
/// file is a compile error rather than a 404 at run time.
macro_rules! assets {
    ($($path:literal => $content_type:expr),* $(,)?) => {
        /// (request path, asset) for every embedded file.
        pub const ASSETS: &[(&str, Asset)] = &[
            $(($path, Asset { content_type: $content_type, bytes: include_bytes!(concat!("../web/", $path)) }),)*
        ];
    };
}

assets! {
    "index.html" => HTML,
    "assets/app.css" => CSS,
    "assets/favicon.svg" => SVG,
    "assets/app.js" => JS,
    "assets/api.js" => JS,
    "assets/dom.js" => JS,
    "assets/format.js" => JS,
    "assets/refresh.js" => JS,
    "assets/svg.js" => JS,
    "assets/charts.js" => JS,
    "assets/view-overview.js" => JS,
    "assets/view-topics.js" => JS,
    "assets/view-topic.js" => JS,
    "assets/messages.js" => JS,
    "assets/view-groups.js" => JS,
    "assets/view-group.js" => JS,
    "assets/timeline.js" => JS,
    "assets/reset-offsets.js" => JS,
}

/// The asset for a request path: `""`, `"/"` and `"index.html"` give the page; otherwise
/// the path as the page links it (`"assets/app.js"`, a leading `/` allowed). Query strings
/// and fragments are the server's business and are not stripped here.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = if path.is_empty() { INDEX_PATH } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests;
