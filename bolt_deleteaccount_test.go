package userprops_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// TestBolt_DeleteAccountChecks: an erasure leaves no index entry, count or
// usage record behind that Check would find, and survives a reopen.
func TestBolt_DeleteAccountChecks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "props.db")
	s, err := userprops.OpenBolt(path, userprops.WithIndex("k", "team"))
	require.NoError(t, err)
	for _, id := range []string{"erased", "kept"} {
		for i := range 50 {
			_, err := s.Set(ctx, id, fmt.Sprintf("k%02d", i), []byte(`{"team":"core"}`))
			require.NoError(t, err)
		}
		_, err := s.Set(ctx, id, "k", []byte(`{"team":["core","infra"]}`))
		require.NoError(t, err)
	}
	n, err := s.DeleteAccount(ctx, "erased")
	require.NoError(t, err)
	assert.Equal(t, 51, n)
	require.NoError(t, s.Check(ctx))
	f, err := s.Find(ctx, userprops.Where("k", "team", "infra"), userprops.Page{})
	require.NoError(t, err)
	assert.Equal(t, []string{"kept"}, f.AccountIDs)
	require.NoError(t, s.Close())

	s, err = userprops.OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	ks, err := s.Keys(ctx, "erased")
	require.NoError(t, err)
	assert.Empty(t, ks)
}
