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
	t.Run("without log", func(t *testing.T) { runBolt(t, userprops.WithWriteAheadLog(false)) })
	t.Run("with log", func(t *testing.T) { runBolt(t, userprops.WithWriteAheadLog(true)) })
}

// runBolt runs the conformance suite on bolt stores opened with base
// before the suite's options.
func runBolt(t *testing.T, base ...userprops.Option) {
	openAt := func(t *testing.T, path string, opts ...userprops.Option) userprops.Store {
		s, err := userprops.OpenBolt(path, append(base[:len(base):len(base)], opts...)...)
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
