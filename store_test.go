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
	openAt := func(t *testing.T, path string, opts ...userprops.Option) userprops.Store {
		s, err := userprops.OpenBolt(path, opts...)
		require.NoError(t, err)
		return s
	}
	storetest.RunHarness(t, storetest.Harness{
		Open: func(t *testing.T, opts ...userprops.Option) userprops.Store {
			return openAt(t, filepath.Join(t.TempDir(), "props.db"), opts...)
		},
		Reopen: func(t *testing.T, st userprops.Store, opts ...userprops.Option) userprops.Store {
			return openAt(t, st.(*userprops.BoltStore).Path(), opts...)
		},
	})
}
