package userprops_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts ...userprops.Option) userprops.Store {
		return userprops.NewMemory(opts...)
	})
}

func TestBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts ...userprops.Option) userprops.Store {
		s, err := userprops.OpenBolt(filepath.Join(t.TempDir(), "props.db"), opts...)
		require.NoError(t, err)
		return s
	})
}
