package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompact(t *testing.T) {
	db := tempDB(t)
	big := `"` + strings.Repeat("x", 30000) + `"`
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		mustRun(t, "set", "--db", db, "--account", "acc", k, big)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		mustRun(t, "delete", "--db", db, "--account", "acc", k)
	}
	out := filepath.Join(t.TempDir(), "small.db")
	var sizes struct{ From, To int64 }
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "compact", "--db", db, out)), &sizes))
	assert.Less(t, sizes.To, sizes.From)
	assert.Equal(t, `{"keys":["f"]}`+"\n", mustRun(t, "keys", "--db", out, "--account", "acc"))
	assert.Equal(t, 1, runCmd(t, "", "compact", "--db", db, out).code, "compact over an existing file")
}
