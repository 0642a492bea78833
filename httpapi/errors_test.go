package httpapi

import (
	"testing"

	"github.com/userprops/userprops/internal/sentinels"
)

// TestMessages_EverySentinel checks that the message table has one row for
// each exported error of package userprops, so that a new error cannot be
// added without Jira's wording for it.
func TestMessages_EverySentinel(t *testing.T) {
	sentinels.RequireRows(t, "../errors.go", "errors.go", "messages")
}
