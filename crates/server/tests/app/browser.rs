//! Jane's grants pages in a real browser: `tests/browser/grants.mjs` drives headless
//! Chromium through playwright-core (the system's Chromium, `apt-get install chromium
//! chromium-driver`) against `grantlog serve --demo` on SQLite and PostgreSQL, while
//! Beppa signs with the npm package oauth-1.0a. Log in by keyboard, approve one photo,
//! find the grant, read its timeline, revoke it, see Beppa's next call refused; an
//! auditor logs in to `/audit`, replays Jane's grants and fetches the receipt and the
//! export; axe-core finds no WCAG 2.0/2.1 A/AA violation on the pages; both log out; the pages make no
//! request to any other origin. The script checks every step itself
//! (`tests/browser/README.md`) and writes the screenshots this test then looks at, under
//! `target/screenshots/<backend>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Server;
use grantlog_store::backend_tests;
use grantlog_store::testing::{Kind, TestDatabase};
use grantlog_tests::{browser_harness, prerequisites, run_client, workspace_root};

const ALL_PASSED: &str = "17 passed, 0 failed";
const SCREENSHOTS: [&str; 5] = ["login.png", "consent.png", "grants.png", "timeline.png", "auditor.png"];
const AUDITOR: &str = "auditor-token-for-the-browser-test-0123456789";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The Chromium to drive (`GRANTLOG_TEST_CHROMIUM`, or Debian's). Missing, it fails the
/// test: a browser test that skips itself would pass without testing. `cargo xtask
/// test` installs it, or leaves these tests out by name and says so.
fn chromium() -> PathBuf {
    let (path, named_by) = prerequisites::chromium_path();
    assert!(
        path.is_file(),
        "no Chromium at {} ({named_by}): the browser tests need it; `cargo xtask test` \
         installs Debian's (apt-get install chromium chromium-driver), or set \
         GRANTLOG_TEST_CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

fn backend(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    }
}

fn assert_png(file: &Path) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    assert!(bytes.starts_with(PNG_SIGNATURE), "{} is not a PNG", file.display());
    assert!(bytes.len() > 1024, "{} is only {} bytes", file.display(), bytes.len());
}

async fn the_owner_reviews_and_revokes_a_grant_in_chromium(database: TestDatabase) {
    let chromium = chromium();
    let screenshots = workspace_root().join("target/screenshots").join(backend(database.kind));
    for name in SCREENSHOTS.iter().chain(&["failure.png"]) {
        // Left from an earlier run, a picture would pass for this run's.
        let _ = std::fs::remove_file(screenshots.join(name));
    }
    let server = Server::start_with(&database.url, &["--demo", "--auditor-token", AUDITOR]);
    let output = run_client(
        Command::new("node")
            .arg("grants.mjs")
            .args(["--base-url", &server.base_url, "--auditor-token", AUDITOR])
            .arg("--screenshots")
            .arg(&screenshots)
            .arg("--chromium")
            .arg(&chromium)
            .current_dir(browser_harness()),
    );
    assert!(output.contains(ALL_PASSED), "{output}");
    for name in SCREENSHOTS {
        assert_png(&screenshots.join(name));
    }
}

backend_tests!(the_owner_reviews_and_revokes_a_grant_in_chromium);
