package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeBlock returns the lines of the first sh code block after the line
// heading in README.md.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	require.True(t, ok, "README.md has no %q", heading)
	_, rest, ok = strings.Cut(rest, "```sh\n")
	require.True(t, ok, "no sh block after %q", heading)
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok, "the sh block after %q does not end", heading)
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// readmeComment splits a README command line from its comment, the answer
// it shows: "…" stands for anything.
var readmeComment = regexp.MustCompile(`^(.*?)\s{2,}# (.*)$`)

// TestReadme_SearchOverHTTP runs the curl lines of the README's "Over HTTP"
// as printed, against a server started as the README starts it, and checks
// that each answers what its comment shows.
func TestReadme_SearchOverHTTP(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the README's lines were not run")
	}
	lines := readmeBlock(t, "### Over HTTP")
	s := startServe(t, "--db", tempDB(t))
	token := regexp.MustCompile(`-u 'admin@userprops.localhost:([^']+)'`).FindStringSubmatch(s.stdout.String())[1]
	local := func(line string) string {
		line = strings.ReplaceAll(line, "TOKEN", token)
		return strings.ReplaceAll(line, "http://127.0.0.1:8080", s.base)
	}
	setup := local(lines[0])
	require.True(t, strings.HasPrefix(setup, "auth="), "the block starts by setting auth and api: %q", lines[0])
	ran := 0
	for _, line := range lines[1:] {
		command, answer := line, ""
		if m := readmeComment.FindStringSubmatch(line); m != nil {
			command, answer = m[1], local(m[2])
		}
		out, err := exec.Command("sh", "-c", setup+"\n"+local(command)+" --silent --show-error --fail").CombinedOutput()
		require.NoError(t, err, "%s\n%s", line, out)
		if answer != "" {
			pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(answer), "…", ".*") + "\n?$"
			assert.Regexp(t, pattern, string(out), line)
		}
		ran++
	}
	assert.Equal(t, 5, ran, "curl lines run")
}
