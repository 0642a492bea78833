// Command userprops serves Jira's user-property REST API from a store file and
// administers store files directly.
//
//	userprops serve   [--db FILE | --postgres DSN] [--addr HOST:PORT] [--accounts FILE] [--base-url URL] [--max-connections N] [--idle-timeout D] [--index '[KEY].PATH']... [--tls-cert FILE --tls-key FILE] [--behind-tls-proxy [--trusted-proxy CIDR]...] [--cors-origin ORIGIN]... [--account-rate R] [--account-burst N] [--address-rate R] [--address-burst N] [--failed-login-rate R] [--failed-login-burst N]
//	userprops get     [--db FILE | --postgres DSN] --account ID [--raw] KEY
//	userprops set     [--db FILE | --postgres DSN] --account ID KEY [VALUE|-]
//	userprops delete  [--db FILE | --postgres DSN] --account ID KEY
//	userprops keys    [--db FILE | --postgres DSN] --account ID
//	userprops find    [--db FILE | --postgres DSN] [--index '[KEY].PATH']... [--start-at N] [--max-results N] QUERY
//	userprops index   list|add|drop --db FILE ['[KEY].PATH']
//	userprops check   [--db FILE | --postgres DSN]
//	userprops backup  --db FILE OUT | --server URL --out FILE
//	userprops compact --db FILE OUT
//	userprops export  [--db FILE | --postgres DSN] [OUT|-]
//	userprops import  [--db FILE | --postgres DSN] [--skip-invalid] IN|-
//	userprops accounts add    --accounts FILE --email E [--account-id ID] [--display-name N] [--admin]
//	userprops accounts list   --accounts FILE
//	userprops accounts remove --accounts FILE (--account-id ID | --email E)
//	userprops accounts rotate --accounts FILE (--account-id ID | --email E)
//
// serve answers Jira's REST resource; get, set, delete and keys are its four
// operations on the command line, and find is its user search by property
// (Jira's structured query, such as '[location].office.city is "Sydney"');
// --index declares an index, which a store file records and keeps (the
// same bracket form as queries); index lists, adds and drops the indexes a
// file keeps. check verifies a whole store, backup makes a
// consistent copy of a file (or, with --server, of the file a running serve
// holds), compact a compacted one, and export and import move
// properties in and out of any store as JSON Lines. The accounts commands manage the
// accounts file serve reads (see accounts.go): add prints the new account's
// API token, and rotate its new one, that once only; a running serve reads
// the changed file on SIGHUP.
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
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
	}
	os.Exit(exitCode(err))
}

// errorLine is how the command reports err on stderr: with the program's
// name in front once, also when the message already starts with it, as the
// library's errors do ("userprops: property not found: …").
func errorLine(err error) string {
	return "userprops: " + strings.TrimPrefix(err.Error(), "userprops: ")
}

// command is one subcommand: its name (one word, or two for the commands of
// a group such as "accounts add"), the arguments its usage line shows, and
// what runs it. The table below yields both the usage text and the
// dispatch, and a test checks the package documentation against it.
type command struct {
	name, args string
	run        func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// storeArgs is how the usage lines name the store a subcommand works on,
// and indexArgs the indexes it declares.
const (
	storeArgs = "[--db FILE | --postgres DSN]"
	indexArgs = "[--index '[KEY].PATH']..."
)

var commands = []command{
	{"serve", storeArgs + " [--addr HOST:PORT] [--accounts FILE] [--base-url URL] [--max-connections N] [--idle-timeout D] " + indexArgs + " [--tls-cert FILE --tls-key FILE] [--behind-tls-proxy [--trusted-proxy CIDR]...] [--cors-origin ORIGIN]... [--account-rate R] [--account-burst N] [--address-rate R] [--address-burst N] [--failed-login-rate R] [--failed-login-burst N]", noStdin(serve)},
	{"get", storeArgs + " --account ID [--raw] KEY", noStdin(get)},
	{"set", storeArgs + " --account ID KEY [VALUE|-]", set},
	{"delete", storeArgs + " --account ID KEY", noStdin(del)},
	{"keys", storeArgs + " --account ID", noStdin(keys)},
	{"find", storeArgs + " " + indexArgs + " [--start-at N] [--max-results N] QUERY", noStdin(find)},
	{"index", indexArgsLine, noStdin(indexCommand(func(p string) (indexKeeper, error) { return openExisting(p) }))},
	{"check", storeArgs, noStdin(check)},
	{"backup", "--db FILE OUT | --server URL --out FILE", noStdin(backup)},
	{"compact", "--db FILE OUT", noStdin(compact)},
	{"export", storeArgs + " [OUT|-]", noStdin(export)},
	{"import", storeArgs + " [--skip-invalid] IN|-", importLines},
	{"accounts add", "--accounts FILE --email E [--account-id ID] [--display-name N] [--admin]", noStdin(accountsAdd)},
	{"accounts list", "--accounts FILE", noStdin(accountsList)},
	{"accounts remove", "--accounts FILE (--account-id ID | --email E)", noStdin(accountsRemove)},
	{"accounts rotate", "--accounts FILE (--account-id ID | --email E)", noStdin(accountsRotate)},
}

// noStdin adapts a subcommand that reads no input to the table.
func noStdin(fn func(ctx context.Context, args []string, stdout, stderr io.Writer) error) func(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return fn(ctx, args, stdout, stderr)
	}
}

// usage is the text "userprops help" prints: a line a subcommand.
var usage = func() string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  userprops %-15s %s\n", c.name, c.args)
	}
	b.WriteString("Run 'userprops COMMAND -h' for a command's flags.\n")
	return b.String()
}()

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
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	for _, c := range commands {
		group, sub, grouped := strings.Cut(c.name, " ")
		switch {
		case !grouped && c.name == name:
			return c.run(ctx, args, stdin, stdout, stderr)
		case grouped && group == name && len(args) > 0 && args[0] == sub:
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	for _, c := range commands {
		if group, _, ok := strings.Cut(c.name, " "); ok && group == name {
			return usageError{fmt.Sprintf("%s needs one of its commands\n%s", name, usage)}
		}
	}
	return usageError{fmt.Sprintf("unknown command %q\n%s", name, usage)}
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
