// Command userprops serves Jira's user-property REST API from a store file and
// administers store files directly.
//
//	userprops serve  [--db FILE] [--addr HOST:PORT] [--accounts FILE] [--base-url URL]
//	userprops get    --db FILE --account ID KEY
//	userprops set    --db FILE --account ID KEY [VALUE|-]
//	userprops delete --db FILE --account ID KEY
//	userprops keys   --db FILE --account ID
//
// Output meant for programs is JSON on stdout; errors go to stderr. The exit
// status is 0 on success, 1 when the operation fails and 2 on misuse.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/userprops/userprops"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "userprops:", err)
	}
	os.Exit(exitCode(err))
}

const usage = `usage:
  userprops serve  [--db FILE] [--addr HOST:PORT] [--accounts FILE] [--base-url URL]
  userprops get    --db FILE --account ID KEY
  userprops set    --db FILE --account ID KEY [VALUE|-]
  userprops delete --db FILE --account ID KEY
  userprops keys   --db FILE --account ID
Run 'userprops COMMAND -h' for a command's flags.
`

// run runs the command line args (without the program name).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given\n" + usage}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "get":
		return get(ctx, args, stdout, stderr)
	case "set":
		return set(ctx, args, stdin, stdout, stderr)
	case "delete":
		return del(ctx, args, stdout, stderr)
	case "keys":
		return keys(ctx, args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}

// usageError is a command line the program cannot run: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	default:
		return 1
	}
}

// storeFlags are the flags every store subcommand takes.
type storeFlags struct {
	fs      *flag.FlagSet
	db      string
	account string
}

func newStoreFlags(name, args string, stderr io.Writer) *storeFlags {
	f := &storeFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.db, "db", "userprops.db", "store `file`")
	f.fs.StringVar(&f.account, "account", "", "account `ID` (required)")
	f.fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: userprops %s --db FILE --account ID %s\n", name, args)
		f.fs.PrintDefaults()
	}
	return f
}

// parse parses args and checks that nargs positional arguments remain
// (between min and max).
func (f *storeFlags) parse(args []string, min, max int) error {
	if err := parseFlags(f.fs, args); err != nil {
		return err
	}
	if f.account == "" {
		return usageError{"--account is required"}
	}
	if n := f.fs.NArg(); n < min || n > max {
		return usageError{fmt.Sprintf("%s takes %d to %d arguments after its flags, got %d", f.fs.Name(), min, max, n)}
	}
	return nil
}

// parseFlags parses args, turning flag errors into usage errors; -h prints
// the usage and is not an error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case err != nil:
		return usageError{err.Error()}
	}
	return nil
}

// errHelp ends a command that printed its usage because -h asked for it.
var errHelp = errors.New("help requested")

// openExisting opens the store file at path, which must exist: reading
// commands never create one.
func openExisting(path string) (*userprops.BoltStore, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: %w", path, err)
	}
	return userprops.OpenBolt(path)
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
