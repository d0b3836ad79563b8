# grantlog's everyday recipes. `just --list` shows them; none is needed to run or
# test grantlog (README.md gives the plain cargo commands).

# Build every crate (debug).
build:
    cargo build --workspace

# Set up what the tests need (PostgreSQL, Python venv, npm packages, Chromium), then run the whole suite, as CI does.
test *args:
    cargo xtask test {{args}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The benchmarks recorded in docs/benchmarks.md (PostgreSQL figures need GRANTLOG_TEST_POSTGRES_URL).
bench:
    cargo bench -p grantlog-oauth1 --bench verify
    cargo bench -p grantlog-store --bench append
    cargo bench -p grantlog-projection --bench replay

# The HTTP load figures in docs/benchmarks.md, against a running `grantlog serve --demo` (`just demo`); e.g. `just load http://127.0.0.1:8080 --seconds 10 --concurrency 4`.
load base_url="http://127.0.0.1:8080" *args:
    cargo run --release -p grantlog-server --example load -- --base-url {{base_url}} {{args}}

# oauthlib's resource endpoint on gunicorn (2 workers) on :18081, for `just load http://127.0.0.1:18081 --signed-with key:secret:token:token-secret` (docs/benchmarks.md); needs `pip install -r benches/python/requirements.txt`.
oauthlib-server credentials="beppa-demo-key:beppa-demo-secret:tok-abc123:toksecret-xyz":
    cd benches/python && GRANTLOG_BENCH_CREDENTIALS={{credentials}} gunicorn -w 2 -b 127.0.0.1:18081 oauthlib_server:app

# grantlog (SQLite, and PostgreSQL with GRANTLOG_TEST_POSTGRES_URL) beside oauthlib, measured by wrk replaying requests pre-signed by oauthlib; prints the table (docs/benchmarks.md). PROFILE=1 adds where grantlog's CPU went, per stage (perf).
load-compare:
    bash benches/compare/run.sh

# Signed requests/s and whole flows/s against 1, 2 and 3 nodes on a PostgreSQL of its own, with commits and statements per request (docs/benchmarks.md, "Several nodes").
load-nodes seconds="10" concurrency="8":
    bash benches/cluster/run.sh {{seconds}} {{concurrency}}

# A cluster to try by hand: a PostgreSQL of its own and N nodes on it; prints their URLs and what to load them with, until Ctrl-C.
cluster nodes="3":
    bash benches/cluster/up.sh {{nodes}}

# The soak: three nodes on a PostgreSQL of their own under mixed load for 10 minutes; CSVs and a PNG in docs/soak/ (docs/benchmarks.md, "Soak"). Needs gnuplot.
soak seconds="600" concurrency="6":
    bash benches/cluster/soak.sh {{seconds}} {{concurrency}}

# What CI runs, start to finish: run before opening a change.
pre-pr:
    bash .ci/run

# The seed story's server: Jane, her photos and Beppa Prints, on http://127.0.0.1:8080.
demo:
    cargo run --release -p grantlog-server -- serve --demo

# The browser test alone: headless Chromium (Debian's) through playwright-core; screenshots in target/screenshots/.
test-browser:
    cargo test -p grantlog-server --test browser
