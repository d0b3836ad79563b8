"""Where a signed request's CPU goes, per stage, from a `perf record` of the server.

Each sample is charged to the function it landed in (its own time, no call graph: the
release build keeps no frame pointers), and each function to the first stage whose
pattern its name matches. So the rows add up to the server's whole CPU, and a row is
what that stage's own code cost, wherever it was called from. Run by
`PROFILE=1 just load-compare`.
"""

import re
import subprocess
import sys

# (stage, what it covers, pattern on "[k] symbol" or "[.] symbol"); the first match wins.
STAGES = [
    ("kernel", "system calls, scheduling, TCP loopback, file writes", r"^\[k\]"),
    ("spans and metrics", "tracing, OpenTelemetry, the metrics registry", r"tracing|opentelemetry|prometheus_client|sharded_slab"),
    ("database driver", "sqlx, SQLite, the PostgreSQL wire protocol", r"sqlx|sqlite|flume|^\[\.\] (wal|pcache|btree|pager|vdbe|unix|balance_)"),
    ("signature", "HMAC-SHA1, SHA-1, constant-time comparison", r"sha1|hmac|digest::|subtle::"),
    ("parse", "the OAuth header, parameters, base string, percent-encoding", r"grantlog_oauth1"),
    ("pipeline and state", "the checks' own code, the kept token state, the nonce ledger",
     r"grantlog_server::(signed|token_states|nonce_ledger|oauth|secret_cache|photo_lists|usage)"),
    ("other grantlog code", "handlers, domain, projection", r"grantlog"),
    ("HTTP", "actix-web and actix-http: reading, routing (regex), writing", r"actix|httparse|http::header|bytes::|regex"),
    ("async runtime", "tokio scheduling, channels, timers", r"tokio|futures|mio::|epoll|^\[\.\] syscall|clock_gettime|pthread"),
    ("JSON", "serde_json", r"serde_json"),
    ("memory", "malloc and free, copies", r"malloc|free|memcpy|memmove|memcmp|cfree|_int_|realloc|memset|unlink_chunk|alloc::"),
    ("other", "everything else", r""),
]


def main(perf_data: str) -> None:
    report = subprocess.run(
        ["perf", "report", "-i", perf_data, "--no-children", "--stdio", "--sort", "dso,symbol",
         "--percent-limit", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    shares = {stage: 0.0 for stage, _, _ in STAGES}
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(\[.\])\s+(.*)$", line)
        if not match:
            continue
        share, name = float(match[1]), f"{match[3]} {match[4].strip()}"
        stage = next(stage for stage, _, pattern in STAGES if re.search(pattern, name))
        shares[stage] += share
    print("| stage | covers | share of the server's CPU |")
    print("|---|---|---|")
    for stage, covers, _ in STAGES:
        print(f"| {stage} | {covers} | {shares[stage]:.1f}% |")


if __name__ == "__main__":
    main(sys.argv[1])
