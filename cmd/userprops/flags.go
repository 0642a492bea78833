package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/pgstore"
)

// storeFlags are the flags of the subcommands that work on a store: --db
// or --postgres, --account for those that work on one account, and --index
// for those that search.
type storeFlags struct {
	fs       *flag.FlagSet
	scope    flagScope
	db       string
	postgres string
	account  string
	indexes  indexFlag
}

// flagScope is what a subcommand works on, which decides its store flags.
type flagScope int

const (
	oneAccount    flagScope = iota // --db or --postgres, and --account
	wholeFile                      // --db only: the file itself
	wholeStore                     // --db or --postgres, and --index
	everyProperty                  // --db or --postgres: all the store holds
)

// newStoreFlags returns the flags of subcommand name, whose positional
// arguments read args in its usage line.
func newStoreFlags(name, args string, stderr io.Writer) *storeFlags {
	return newFlags(name, args, oneAccount, stderr)
}

// newFileFlags returns the flags of a subcommand on a whole store file
// (--db only: these work on the file itself).
func newFileFlags(name, args string, stderr io.Writer) *storeFlags {
	return newFlags(name, args, wholeFile, stderr)
}

// newAdminFlags returns the flags of a subcommand on every property of a
// store (--db or --postgres: export, import, check).
func newAdminFlags(name, args string, stderr io.Writer) *storeFlags {
	return newFlags(name, args, everyProperty, stderr)
}

// newFlags returns the flags of subcommand name for its scope: those on
// one account, on every property and those that search work on any store,
// --db or --postgres; the others on a store file.
func newFlags(name, args string, scope flagScope, stderr io.Writer) *storeFlags {
	f := &storeFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError), scope: scope}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.db, "db", "userprops.db", "store `file`")
	line := "usage: userprops " + name + " --db FILE "
	if scope != wholeFile {
		f.fs.StringVar(&f.postgres, "postgres", "", "use the PostgreSQL database at `DSN` instead of a --db file")
		line = "usage: userprops " + name + " [--db FILE | --postgres DSN] "
	}
	switch scope {
	case oneAccount:
		f.fs.StringVar(&f.account, "account", "", "account `ID` (required)")
		line += "--account ID "
	case wholeStore:
		f.fs.Var(&f.indexes, "index", indexUsage)
		line += indexArgs + " "
	}
	f.fs.Usage = func() {
		fmt.Fprintln(stderr, line+args)
		f.fs.PrintDefaults()
	}
	return f
}

// indexUsage is the help text of every --index flag.
const indexUsage = "declare an index on a property path, as `'[KEY].PATH'` (repeatable; a store file records it and keeps it)"

// indexFlag is the value of a repeatable --index flag: the indexes given,
// each read with userprops.ParseIndex.
type indexFlag []userprops.Index

func (f *indexFlag) String() string {
	if f == nil {
		return ""
	}
	names := make([]string, len(*f))
	for i, ix := range *f {
		names[i] = ix.String()
	}
	return strings.Join(names, " ")
}

func (f *indexFlag) Set(s string) error {
	ix, err := userprops.ParseIndex(s)
	if err != nil {
		return err
	}
	*f = append(*f, ix)
	return nil
}

// options returns the store options that declare the indexes.
func (f indexFlag) options() []userprops.Option {
	opts := make([]userprops.Option, len(f))
	for i, ix := range f {
		opts[i] = userprops.WithIndex(ix.Key, ix.Path)
	}
	return opts
}

// parse parses args and checks that between min and max positional
// arguments remain.
func (f *storeFlags) parse(args []string, min, max int) error {
	if err := parseFlags(f.fs, args); err != nil {
		return err
	}
	if f.scope == oneAccount && f.account == "" {
		return usageError{"--account is required"}
	}
	if f.postgres != "" {
		dbGiven := false
		f.fs.Visit(func(fl *flag.Flag) { dbGiven = dbGiven || fl.Name == "db" })
		if dbGiven {
			return usageError{"give --db or --postgres, not both"}
		}
	}
	if n := f.fs.NArg(); n < min || n > max {
		return usageError{fmt.Sprintf("%s takes %d to %d arguments after its flags, got %d", f.fs.Name(), min, max, n)}
	}
	return nil
}

// withStore parses args (between min and max positional arguments), opens
// the existing store (the --db file, or the --postgres database) and runs fn
// on it, closing the store after.
func (f *storeFlags) withStore(ctx context.Context, args []string, min, max int, fn func(userprops.Store) error) error {
	if err := f.parse(args, min, max); err != nil {
		return err
	}
	store, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}

// withFile parses args (between min and max positional arguments), opens
// the existing store file and runs fn on it, closing the store after.
func (f *storeFlags) withFile(args []string, min, max int, fn func(*userprops.BoltStore) error) error {
	if err := f.parse(args, min, max); err != nil {
		return err
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}

// open opens the store the flags name, which must exist: the --postgres
// database, or else the --db file (commands other than serve never create
// one).
func (f *storeFlags) open(ctx context.Context) (userprops.Store, error) {
	if f.postgres != "" {
		return pgstore.Open(ctx, f.postgres, f.indexes.options()...)
	}
	return openExisting(f.db, f.indexes.options()...)
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
func openExisting(path string, opts ...userprops.Option) (*userprops.BoltStore, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: %w", path, err)
	}
	return userprops.OpenBolt(path, opts...)
}

// create opens the store the flags name, creating the --db file if it does
// not exist (for the subcommands that write).
func (f *storeFlags) create(ctx context.Context) (userprops.Store, error) {
	if f.postgres != "" {
		return pgstore.Open(ctx, f.postgres)
	}
	return userprops.OpenBolt(f.db)
}

// as returns store as the capability T a subcommand needs (Scanner,
// restorer, checker), or an error naming what the store lacks. Every store
// the command opens has them all; the interfaces let one subcommand serve
// every backend.
func as[T any](store userprops.Store, what string) (T, error) {
	c, ok := store.(T)
	if !ok {
		return c, fmt.Errorf("the store (%T) cannot %s", store, what)
	}
	return c, nil
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
