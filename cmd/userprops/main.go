// Command userprops serves Jira's user-property REST API from a store file and
// administers store files directly.
//
//	userprops serve  [--db FILE | --postgres DSN] [--addr HOST:PORT] [--accounts FILE] [--base-url URL]
//	userprops get    --db FILE --account ID KEY
//	userprops set    --db FILE --account ID KEY [VALUE|-]
//	userprops delete --db FILE --account ID KEY
//	userprops keys   --db FILE --account ID
//	userprops check  --db FILE                       # full consistency check
//	userprops backup --db FILE OUT                   # consistent copy
//	userprops compact --db FILE OUT                  # compacted copy
//	userprops export --db FILE [OUT|-]               # JSON Lines
//	userprops import --db FILE [--skip-invalid] IN|-
//
// Output meant for programs is JSON on stdout; errors go to stderr. The exit
// status is 0 on success, 1 when the operation fails and 2 on misuse.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
  userprops serve  [--db FILE | --postgres DSN] [--addr HOST:PORT] [--accounts FILE] [--base-url URL]
  userprops get    --db FILE --account ID KEY
  userprops set    --db FILE --account ID KEY [VALUE|-]
  userprops delete --db FILE --account ID KEY
  userprops keys   --db FILE --account ID
  userprops check  --db FILE
  userprops backup --db FILE OUT
  userprops compact --db FILE OUT
  userprops export --db FILE [OUT|-]
  userprops import --db FILE [--skip-invalid] IN|-
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
	case "check":
		return check(ctx, args, stdout, stderr)
	case "backup":
		return backup(ctx, args, stdout, stderr)
	case "compact":
		return compact(ctx, args, stdout, stderr)
	case "export":
		return export(ctx, args, stdout, stderr)
	case "import":
		return importLines(ctx, args, stdin, stdout, stderr)
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
