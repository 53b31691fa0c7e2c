//! Guards for the embedded console: every file the page or its modules reference is
//! embedded, every embedded file is reachable, and nothing points off the machine.

use super::*;

fn text(path: &str) -> &'static str {
    let a = asset(path).unwrap_or_else(|| panic!("{path} is not embedded"));
    std::str::from_utf8(a.bytes).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
}

/// The values that follow each `marker` up to the next `quote`-like terminator.
fn quoted_after<'a>(haystack: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = haystack;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) else { continue };
        let body = &rest[1..];
        if let Some(end) = body.find(quote) {
            out.push(&body[..end]);
        }
    }
    out
}

/// Resolves `reference` (as written in the file at `from`) to a console request path.
fn resolve(from: &str, reference: &str) -> String {
    let base = from.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
    let mut parts: Vec<&str> = if reference.starts_with('/') || base.is_empty() {
        Vec::new()
    } else {
        base.split('/').collect()
    };
    for seg in reference.trim_start_matches('/').split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn is_local(reference: &str) -> bool {
    !(reference.starts_with('#') || reference.starts_with("data:") || reference.contains("${"))
}

#[test]
fn root_and_index_serve_the_page() {
    for path in ["", "/", "index.html", "/index.html"] {
        let a = asset(path).expect(path);
        assert_eq!(a.content_type, "text/html; charset=utf-8", "{path}");
        assert!(text(path).contains("<main"), "{path}");
    }
}

#[test]
fn unknown_and_escaping_paths_are_not_served() {
    for path in ["nope", "assets/", "assets/nope.js", "../Cargo.toml", "assets/../src/lib.rs", "src/lib.rs"] {
        assert!(asset(path).is_none(), "{path}");
    }
}

#[test]
fn content_types_follow_the_extension() {
    for (path, a) in ASSETS {
        let want = match path.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => HTML,
            Some("css") => CSS,
            Some("js") => JS,
            Some("svg") => SVG,
            other => panic!("{path}: no content type for extension {other:?}"),
        };
        assert_eq!(a.content_type, want, "{path}");
    }
}

#[test]
fn every_asset_referenced_by_the_page_and_its_modules_exists() {
    let page = text(INDEX_PATH);
    let mut references: Vec<(String, String)> = Vec::new();
    for marker in ["src=", "href="] {
        for r in quoted_after(page, marker).into_iter().filter(|r| is_local(r)) {
            references.push((INDEX_PATH.to_string(), resolve(INDEX_PATH, r)));
        }
    }
    assert!(references.iter().any(|(_, p)| p == "assets/app.js"), "the page loads no app.js: {references:?}");
    for (path, _) in ASSETS.iter().filter(|(p, _)| p.ends_with(".js")) {
        let src = text(path);
        for marker in ["from ", "import("] {
            for r in quoted_after(src, marker).into_iter().filter(|r| r.starts_with('.')) {
                references.push((path.to_string(), resolve(path, r)));
            }
        }
    }
    for (path, _) in ASSETS.iter().filter(|(p, _)| p.ends_with(".css")) {
        for r in quoted_after(text(path), "url(").into_iter().filter(|r| is_local(r)) {
            references.push((path.to_string(), resolve(path, r)));
        }
    }
    let missing: Vec<_> = references.iter().filter(|(_, p)| asset(p).is_none()).collect();
    assert!(missing.is_empty(), "referenced but not embedded (file, path): {missing:?}");
}

/// SVG's namespace name: an identifier the browser compares, never fetches.
const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

#[test]
fn no_asset_references_a_remote_url() {
    for (path, _) in ASSETS {
        let src = text(path).replace(SVG_NAMESPACE, "").to_ascii_lowercase();
        for needle in ["http://", "https://", "src=\"//", "href=\"//", "src='//", "href='//", "url(//", "@import"] {
            assert!(!src.contains(needle), "{path} contains {needle:?}: the console must work with no network");
        }
    }
}

#[test]
fn every_file_in_the_web_directory_is_embedded() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read assets dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&root).expect("under root").to_string_lossy().replace('\\', "/");
            assert!(asset(&rel).is_some(), "{} is in web/ but not embedded as {rel}", p.display());
        }
    }
}
