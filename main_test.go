package userprops

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, or, when the test binary is started as a child
// by one of the process-level tests (crash_test.go), that child's program.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	closeFixtures()
	os.Exit(code)
}
