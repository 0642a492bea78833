package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lines returns what b holds, a line each.
func lines(b *syncBuffer) []string {
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func TestWatch(t *testing.T) {
	db := tempDB(t)
	mustRun(t, "set", "--db", db, "--account", "a", "k", `{"n":1}`)
	mustRun(t, "set", "--db", db, "--account", "b", "k", `2`)
	mustRun(t, "delete", "--db", db, "--account", "a", "k")

	// The history, then the end at SIGINT (a canceled context): exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"watch", "--db", db}, strings.NewReader(""), &out, &errOut) }()
	require.Eventually(t, func() bool { return len(lines(&out)) == 3 }, time.Minute, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done, errOut.String())
	var changes []map[string]any
	for _, l := range lines(&out) {
		var c map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &c), l)
		changes = append(changes, c)
	}
	assert.Equal(t, map[string]any{"accountId": "a", "key": "k", "revision": float64(1), "value": map[string]any{"n": float64(1)}}, changes[0])
	assert.Equal(t, "b", changes[1]["accountId"])
	assert.Equal(t, true, changes[2]["deleted"])
	assert.NotContains(t, changes[2], "value")

	got := mustRun(t, "watch", "--db", db, "--account", "b", "--after", "1", "--help")
	assert.Empty(t, got, "--help prints usage on stderr only")
	r := runCmd(t, "", "watch", "--db", db, "--after", "x")
	assert.Equal(t, 2, r.code, "a bad --after is a usage error")
}
