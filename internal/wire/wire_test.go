package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/sentinels"
)

// TestMessages_EverySentinel checks that the message table has one row for
// each exported error of package userprops, so that a new error cannot be
// added without Jira's wording for it.
func TestMessages_EverySentinel(t *testing.T) {
	sentinels.RequireRows(t, "../../errors.go", "messages.go", "Messages")
}

// TestSentinel_InvertsMessage: every message Message writes, whatever the
// key and detail, gives back its sentinel, except the one text several
// sentinels share.
func TestSentinel_InvertsMessage(t *testing.T) {
	for _, row := range Messages {
		for _, key := range []string{"k", "", "a does not exist. b", "{key}", "é/%?#"} {
			err := fmt.Errorf("%w: at byte 3: expected is", row.Err)
			got := Sentinel(Message(err, key))
			if row.Text == InternalError {
				assert.Nil(t, got, "%v: a shared text names no error", row.Err)
				continue
			}
			assert.Equal(t, row.Err, got, "Sentinel(Message(%v, %q))", row.Err, key)
		}
	}
	assert.Nil(t, Sentinel("Something else."))
	assert.Nil(t, Sentinel(""))
	assert.Nil(t, Sentinel("The property k does not exist"), "without its period")
	assert.True(t, errors.Is(Sentinel("The property  does not exist."), userprops.ErrNotFound))
}

// TestAppendProperty_RoundTrip: PropertyValue gives back the exact bytes,
// and the body is the JSON a Property decodes.
func TestAppendProperty_RoundTrip(t *testing.T) {
	for _, c := range []struct{ key, value string }{
		{"k", `1`}, {"<&>", " \t{ \"a\" : [1] }\n "}, {"é\x00\"", `"}\n"`},
	} {
		body := AppendProperty(nil, c.key, []byte(c.value))
		v, ok := PropertyValue(body, c.key)
		require.True(t, ok)
		assert.Equal(t, c.value, string(v))
		var p Property
		require.NoError(t, json.Unmarshal(body, &p))
		assert.Equal(t, c.key, p.Key)
		_, ok = PropertyValue(body, c.key+"x")
		assert.False(t, ok, "another key")
	}
}
