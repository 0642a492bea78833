#!/usr/bin/env bash
# Starts "userprops serve" over HTTPS on a fresh store and drives it with
# jira.js (installed from the npm registry into this folder): check.mjs on a
# server with the default limits, ratelimit.mjs on one with a tiny limit per
# account. The certificate is made for the run (Go's generate_cert.go) and
# trusted through NODE_EXTRA_CA_CERTS. Then agree.mjs runs the steps of
# steps.json through jira.js on a server with an administrator and a user,
# and ../remotecheck runs them through the Go client on the same server and
# fails where the two disagree. Needs Node.js and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

(cd "$here" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$top" && go build -o "$work/userprops" ./cmd/userprops)
(cd "$work" && go run "$(go env GOROOT)/src/crypto/tls/generate_cert.go" --host 127.0.0.1 --duration 1h >/dev/null 2>&1)
export NODE_EXTRA_CA_CERTS="$work/cert.pem"

# start NAME [serve flags…]: starts a server with its own store (and the
# accounts file $work/NAME/accounts.json, made with one administrator if
# missing); sets host and token (the first account's).
start() {
	local name=$1
	shift
	mkdir -p "$work/$name"
	"$work/userprops" serve --db "$work/$name/props.db" --addr 127.0.0.1:0 \
		--tls-cert "$work/cert.pem" --tls-key "$work/key.pem" "$@" >"$work/$name/out" 2>"$work/$name/log" &
	pids+=($!)
	for _ in $(seq 100); do grep -qs '^serving on' "$work/$name/out" && break; sleep 0.1; done
	host=$(sed -n 's/^serving on \(https:[^ ]*\).*/\1/p' "$work/$name/out")
	[ -n "$host" ] || { echo "$name: serve did not start:"; cat "$work/$name/log"; exit 1; }
	token=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accounts[0].apiToken)' "$work/$name/accounts.json")
}

start main
JIRA_HOST=$host JIRA_EMAIL=admin@userprops.localhost JIRA_TOKEN=$token ACCOUNT_ID=admin node "$here/check.mjs"
start limited --account-rate 0.5 --account-burst 2
JIRA_HOST=$host JIRA_EMAIL=admin@userprops.localhost JIRA_TOKEN=$token ACCOUNT_ID=admin node "$here/ratelimit.mjs"

# The agreement check: an administrator (admin) and a user (user) who is not one.
mkdir "$work/agree"
accounts=$work/agree/accounts.json
"$work/userprops" accounts add --accounts "$accounts" --email admin@userprops.localhost --account-id admin --admin >/dev/null 2>&1
"$work/userprops" accounts add --accounts "$accounts" --email user@userprops.localhost --account-id user >/dev/null 2>&1
start agree
user_token=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accounts[1].apiToken)' "$accounts")
(cd "$top" && go build -o "$work/remotecheck" ./interop/remotecheck)
export ADMIN_EMAIL=admin@userprops.localhost ADMIN_TOKEN=$token USER_EMAIL=user@userprops.localhost USER_TOKEN=$user_token
JIRA_HOST=$host TRANSCRIPT="$work/agree/jirajs.json" node "$here/agree.mjs"
"$work/remotecheck" -host "$host" -ca "$work/cert.pem" -steps "$here/steps.json" -transcript "$work/agree/jirajs.json"
