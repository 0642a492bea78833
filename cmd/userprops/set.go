package main

import (
	"context"
	"fmt"
	"io"

	"github.com/userprops/userprops"
)

// set stores a value, given as an argument or, when it is "-" or absent, read
// from stdin, and prints {"key":K,"status":"created"|"updated"}.
func set(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newStoreFlags("set", "KEY [VALUE|-]", stderr)
	if err := f.parse(args, 1, 2); err != nil {
		return err
	}
	key := f.fs.Arg(0)
	var value []byte
	if v := f.fs.Arg(1); f.fs.NArg() == 2 && v != "-" {
		value = []byte(v)
	} else {
		// One byte more than the limit is enough to be refused as too large.
		// Reading gives up on SIGINT/SIGTERM, even if stdin never ends.
		var err error
		value, err = io.ReadAll(io.LimitReader(newContextReader(ctx, stdin), userprops.MaxValueBytes+1))
		if err != nil {
			return fmt.Errorf("reading the value from stdin: %w", err)
		}
	}
	// Refuse a bad value before touching (or creating) the file.
	if err := userprops.ValidateValue(value); err != nil {
		return err
	}
	store, err := f.create(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	status, err := store.Set(ctx, f.account, key, value)
	if err != nil {
		return err
	}
	return printJSON(stdout, struct {
		Key    string `json:"key"`
		Status string `json:"status"`
	}{key, status.String()})
}
