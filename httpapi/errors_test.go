package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops/internal/sentinels"
)

// TestMessages_EverySentinel checks that the message table has one row for
// each exported error of package userprops, so that a new error cannot be
// added without Jira's wording for it.
func TestMessages_EverySentinel(t *testing.T) {
	declared, err := sentinels.Declared("../errors.go")
	require.NoError(t, err)
	rows, err := sentinels.TableKeys("errors.go", "messages")
	require.NoError(t, err)
	require.NotEmpty(t, declared)
	assert.Equal(t, declared, rows, "rows of messages, against the errors package userprops declares")
}
