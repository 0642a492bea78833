#!/usr/bin/env bash
# Starts "userprops serve" on a fresh store and drives it with jira.js
# (installed from the npm registry into this folder). Needs Node.js and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$here" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$top" && go build -o "$work/userprops" ./cmd/userprops)
"$work/userprops" serve --db "$work/props.db" --addr 127.0.0.1:0 >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q '^serving on' "$work/out" && break; sleep 0.1; done
host=$(sed -n 's/^serving on \(http:[^ ]*\).*/\1/p' "$work/out")
token=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accounts[0].apiToken)' "$work/accounts.json")
JIRA_HOST=$host JIRA_EMAIL=admin@userprops.localhost JIRA_TOKEN=$token ACCOUNT_ID=admin node "$here/check.mjs"
