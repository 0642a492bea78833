//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/userprops/userprops"
)

// answerWithin waits a generous while for what a command returned.
func answerWithin(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not end when its context did", what)
		return nil
	}
}

// silentPipe returns the reading end of a pipe whose writer never writes
// (it is closed when the test ends).
func silentPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { w.Close(); r.Close() })
	return r, w
}

func TestStdinReadsEndWithTheContext(t *testing.T) {
	db := tempDB(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, args := range [][]string{
		{"set", "--db", db, "--account", "a", "k", "-"},
		{"set", "--db", db, "--account", "a", "k"},
		{"import", "--db", db, "-"},
		{"import", "--db", db, fifo}, // waits for a writer to open it
	} {
		stdin, _ := silentPipe(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, stdin, io.Discard, io.Discard) }()
		cancel()
		err := answerWithin(t, done, strings.Join(args, " "))
		assert.ErrorIs(t, err, context.Canceled, "%q", args)
		assert.Equal(t, 1, exitCode(err))
	}
	assert.NoFileExists(t, db)
}

func TestImport_NamedPipe(t *testing.T) {
	// import <(…) names a pipe: it is read once, then checked and
	// imported from a copy, like stdin.
	r, w := silentPipe(t)
	go func() {
		io.WriteString(w, `{"accountId":"a","key":"k","value":"1"}`+"\n")
		w.Close()
	}()
	db := tempDB(t)
	res := runCmd(t, "", "import", "--db", db, fmt.Sprintf("/dev/fd/%d", r.Fd()))
	require.NoError(t, res.err, res.stderr)
	assert.Equal(t, `{"imported":1,"skipped":0}`+"\n", res.stdout)
}

// stuckWriter is a stdout nobody reads: its first Write says so on
// entered, then blocks until unblock is closed.
type stuckWriter struct {
	entered chan struct{}
	unblock chan struct{}
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.unblock
	return 0, io.ErrClosedPipe
}

func TestExport_BlockedStdoutEndsWithTheContext(t *testing.T) {
	db := exportFixture(t)
	stdout := &stuckWriter{entered: make(chan struct{}, 1), unblock: make(chan struct{})}
	defer close(stdout.unblock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"export", "--db", db}, strings.NewReader(""), stdout, io.Discard) }()
	select {
	case <-stdout.entered:
	case err := <-done:
		t.Fatalf("export ended before writing: %v", err)
	}
	cancel()
	err := answerWithin(t, done, "export to a blocked stdout")
	assert.ErrorIs(t, err, context.Canceled)
}

// exportFixture returns a store file with more properties than a pipe and
// the export buffer hold.
func exportFixture(t *testing.T) string {
	t.Helper()
	db := tempDB(t)
	s, err := userprops.OpenBolt(db)
	require.NoError(t, err)
	value := []byte(`"` + strings.Repeat("x", 4000) + `"`)
	var props []userprops.Property
	for i := range 200 {
		props = append(props, userprops.Property{AccountID: "a", Key: fmt.Sprintf("k%03d", i), Version: 1, UpdatedAt: time.Now(), Value: value})
	}
	require.NoError(t, s.Restore(context.Background(), props))
	require.NoError(t, s.Close())
	return db
}

// pipeBytes returns how many bytes wait in the pipe open at f (FIONREAD,
// on either end of the pipe).
func pipeBytes(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
	require.NoError(t, err)
	return n
}

// waitFor polls cond a generous while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startCommand runs the command line as a process of its own (the test
// binary, see TestMain) with the given stdin and stdout.
func startCommand(t *testing.T, stdin, stdout *os.File, args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "USERPROPS_TEST_MAIN=1")
	cmd.Stdin, cmd.Stdout = stdin, stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd, &stderr, exited
}

// exitsOnSignal sends sig to the process and requires it to exit by itself
// (not killed by the signal) with status 1, reporting the interruption.
func exitsOnSignal(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, exited chan error, sig os.Signal) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(sig))
	select {
	case err := <-exited:
		exited <- err
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "exit after %v", sig)
		assert.Equal(t, 1, exit.ExitCode(), "exit status after %v (-1: killed by it)\nstderr: %s", sig, stderr)
		assert.Contains(t, stderr.String(), "context canceled")
	case <-time.After(20 * time.Second):
		t.Fatalf("the command did not end on %v", sig)
	}
}

func TestCommands_EndOnSignalsWhileStdinIsSilent(t *testing.T) {
	for _, c := range []struct {
		args []string
		sig  os.Signal
	}{
		{[]string{"set", "--db", tempDB(t), "--account", "a", "k", "-"}, os.Interrupt},
		{[]string{"set", "--db", tempDB(t), "--account", "a", "k", "-"}, syscall.SIGTERM},
		{[]string{"import", "--db", tempDB(t), "-"}, syscall.SIGTERM},
	} {
		stdin, w := silentPipe(t)
		cmd, stderr, exited := startCommand(t, stdin, nil, c.args...)
		// One byte the command reads: once it is gone, the command is
		// reading stdin, past the point where it catches signals.
		_, err := w.WriteString("[")
		require.NoError(t, err)
		waitFor(t, "the command read stdin", func() bool { return pipeBytes(t, w) == 0 })
		exitsOnSignal(t, cmd, stderr, exited, c.sig)
	}
}

func TestExport_EndsOnSignalWhileStdoutIsBlocked(t *testing.T) {
	db := exportFixture(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd, stderr, exited := startCommand(t, nil, w, "export", "--db", db, "-")
	w.Close()
	// The pipe fills up and nobody reads it: the export is stuck writing.
	size, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	waitFor(t, "the pipe is full", func() bool { return pipeBytes(t, r) >= size })
	exitsOnSignal(t, cmd, stderr, exited, syscall.SIGTERM)
}
