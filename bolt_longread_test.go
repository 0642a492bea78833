package userprops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// stalledWriter is a Backup destination that stops at its first Write
// until released: a slow disk or network at its worst.
type stalledWriter struct {
	started, release chan struct{}
	once             sync.Once
	buf              bytes.Buffer
}

func newStalledWriter() *stalledWriter {
	return &stalledWriter{started: make(chan struct{}), release: make(chan struct{})}
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started); <-w.release })
	return w.buf.Write(p)
}

// within runs fn and fails the test if it has not returned after limit: the
// guard against a hang, far above what fn needs.
func within(t *testing.T, limit time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: still running after %v", what, limit)
	}
}

// stalledBackup starts a Backup of s to a stalledWriter and returns once the
// Backup is stalled on it; release the writer to let it finish.
func stalledBackup(s *userprops.BoltStore) (*stalledWriter, <-chan error) {
	w := newStalledWriter()
	done := make(chan error, 1)
	go func() {
		_, err := s.Backup(context.Background(), w)
		done <- err
	}()
	<-w.started
	return w, done
}

func seed(t *testing.T, s userprops.Store, n int) {
	t.Helper()
	for i := range n {
		_, err := s.Set(context.Background(), "seed", fmt.Sprintf("k%04d", i), []byte(`{"n":1}`))
		require.NoError(t, err)
	}
}

// bigValue is a 4 KB JSON value.
var bigValue = []byte(`"` + strings.Repeat("v", 4094) + `"`)

// TestBolt_BackupDoesNotHoldUpWrites: while a Backup is stalled on its
// writer, 32 writers grow the file by megabytes and reads go on.
func TestBolt_BackupDoesNotHoldUpWrites(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, filepath.Join(t.TempDir(), "props.db"))
	seed(t, s, 100)
	w, backupDone := stalledBackup(s)

	within(t, 60*time.Second, "32 writers during a stalled Backup", func() {
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Go(func() {
				for i := range 40 {
					_, err := s.Set(ctx, fmt.Sprintf("writer%02d", g), fmt.Sprintf("k%02d", i), bigValue)
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		_, err := s.Get(ctx, "writer00", "k00")
		assert.NoError(t, err)
	})
	close(w.release)
	require.NoError(t, <-backupDone)

	// The backup is the store as of its start: the seed, none of the rest.
	path := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, os.WriteFile(path, w.buf.Bytes(), 0o600))
	b := openBolt(t, path)
	keys, err := b.Keys(ctx, "seed")
	require.NoError(t, err)
	assert.Len(t, keys, 100)
	keys, err = b.Keys(ctx, "writer00")
	require.NoError(t, err)
	assert.Empty(t, keys)
}

// TestBolt_StuckWriteAnswers: with a map too small to hold the file's growth
// (WithMmapSize(0): bbolt's own sizing), a commit that must replace the map
// waits for a stalled Backup. Without the write-ahead log every write is
// such a commit (with it, the applier's commit is, and while it waits for
// the map every new transaction waits too, the committer's included): a
// writer whose deadline passes meanwhile gets
// ErrOutcomeUnknown in bounded time, not a context error (the write does
// land, once the Backup ends).
func TestBolt_StuckWriteAnswers(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, filepath.Join(t.TempDir(), "props.db"), userprops.WithMmapSize(0), userprops.WithWriteAheadLog(false))
	seed(t, s, 10)
	w, backupDone := stalledBackup(s)

	var stuck string
	within(t, 60*time.Second, "writes against a stalled Backup", func() {
		for i := range 400 {
			key := fmt.Sprintf("grow%03d", i)
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := s.Set(wctx, "acc", key, bigValue)
			cancel()
			if err != nil {
				require.ErrorIs(t, err, userprops.ErrOutcomeUnknown)
				assert.False(t, errors.Is(err, context.DeadlineExceeded), "an unknown outcome must not read as a context error")
				stuck = key
				return
			}
		}
	})
	require.NotEmpty(t, stuck, "the file never outgrew its map; the test grew it too little")
	close(w.release)
	require.NoError(t, <-backupDone)
	within(t, 30*time.Second, "the stuck write landing", func() {
		for {
			if _, err := s.Get(ctx, "acc", stuck); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestBolt_ForEachWithWrites: a ForEach whose callback writes, with a
// deadline, beside a concurrent Keys, completes.
func TestBolt_ForEachWithWrites(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, filepath.Join(t.TempDir(), "props.db"))
	seed(t, s, 300)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := s.Keys(ctx, "seed")
			assert.NoError(t, err)
		}
	})
	within(t, 60*time.Second, "ForEach with Sets in its callback", func() {
		n := 0
		err := s.ForEach(ctx, func(p userprops.Property) error {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			n++
			_, err := s.Set(wctx, "copy", p.Key, bigValue)
			return err
		})
		assert.NoError(t, err)
		assert.Equal(t, 300, n)
	})
	close(stop)
	readers.Wait()
}

// TestBolt_ForEachWritesOutgrowTheMap: a ForEach whose callback writes,
// with the log and a map too small for the file's growth (WithMmapSize(0)):
// once the applier must grow the file, it waits for the ForEach to end, and
// new transactions wait behind it. The callback's writes must then answer
// at their deadline (ErrOutcomeUnknown), not wait for the ForEach they run
// in, which would wait for them in turn.
func TestBolt_ForEachWritesOutgrowTheMap(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, filepath.Join(t.TempDir(), "props.db"), userprops.WithMmapSize(0), userprops.WithWriteAheadLog(true))
	seed(t, s, 300)
	within(t, 60*time.Second, "ForEach with writes past the map", func() {
		n := 0
		err := s.ForEach(ctx, func(p userprops.Property) error {
			for i := range 20 { // 24 MB in all: more than the applier's 16 MiB
				wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				_, err := s.Set(wctx, "copy-"+p.Key, fmt.Sprintf("k%02d", i), bigValue)
				cancel()
				if err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			require.ErrorIs(t, err, userprops.ErrOutcomeUnknown)
		}
		t.Logf("%d writes made in the ForEach before it ended (%v)", n, err)
	})
	// Once the ForEach is over, the file grows and writes go on.
	within(t, 60*time.Second, "a write after the ForEach", func() {
		_, err := s.Set(ctx, "after", "k", []byte(`1`))
		require.NoError(t, err)
	})
	require.NoError(t, s.Check(ctx))
}
