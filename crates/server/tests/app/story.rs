//! The seed story end to end, driven by OAuth 1.0a libraries nobody here wrote —
//! Python's requests-oauthlib (header, query and body signatures) and Node's
//! oauth-1.0a (parameters in the header or a form body) — against `grantlog serve
//! --demo` on SQLite and PostgreSQL. Each client checks every step itself
//! (`tests/clients/README.md`) and exits non-zero on the first that misbehaves.

use std::process::Command;

use crate::support::Server;
use grantlog_store::backend_tests;
use grantlog_store::testing::TestDatabase;
use grantlog_tests::{node_client, python, run_client, workspace_root};

const ALL_PASSED: &str = "13 passed, 0 failed";

async fn requests_oauthlib_runs_the_story(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let script = workspace_root().join("tests/clients/python/story.py");
    for signature_type in ["header", "query", "body"] {
        let output = run_client(Command::new(python()).arg(&script).args([
            "--base-url",
            &server.base_url,
            "--signature-type",
            signature_type,
        ]));
        assert!(output.contains(ALL_PASSED), "{signature_type}:\n{output}");
    }
}

async fn node_oauth_1_0a_runs_the_story(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    for params_in in ["header", "form"] {
        let output = run_client(
            Command::new("node")
                .arg("story.mjs")
                .args(["--base-url", &server.base_url, "--params-in", params_in])
                .current_dir(node_client()),
        );
        assert!(output.contains(ALL_PASSED), "{params_in}:\n{output}");
    }
}

backend_tests!(requests_oauthlib_runs_the_story, node_oauth_1_0a_runs_the_story);
