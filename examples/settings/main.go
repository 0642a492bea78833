// Command settings shows userprops embedded in a program that keeps per-user
// settings in a durable file: it stores a few properties for two accounts,
// reads and lists them, and shows what Jira's rules refuse.
//
//	go run ./examples/settings            # uses a file in the temporary directory
//	go run ./examples/settings -db my.db  # or a file of your choice
//
// Run it twice: the second run finds the first run's properties, so its Sets
// answer "updated" and the versions grow.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/userprops/userprops"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "settings:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	dbPath := fs.String("db", filepath.Join(os.TempDir(), "userprops-example.db"), "store `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}

	store, err := userprops.OpenBolt(*dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(out, "store: %s\n\n", store.Path())

	const alice, bob = "5b10ac8d82e05b22cc7d4ef5", "712020:2722a0b4-4b3c-4ee2-a0fc-1fd9bd1bbcb9"
	writes := []struct{ account, key, value string }{
		{alice, "settings", `{"theme":"dark","language":"en-GB"}`},
		{alice, "onboarding.done", `true`},
		{bob, "settings", `{"theme":"light"}`},
		{bob, "dashboard.layout", `{"columns":[1,2,3]}`},
	}
	for _, w := range writes {
		status, err := store.Set(ctx, w.account, w.key, []byte(w.value))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "set %-16s for %.8s…  %s (%d)\n", w.key, w.account, status, status.HTTPStatus())
	}

	fmt.Fprintln(out)
	for _, account := range []string{alice, bob} {
		keys, err := store.Keys(ctx, account)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%.8s… has %s\n", account, strings.Join(keys, ", "))
		for _, key := range keys {
			p, err := store.Get(ctx, account, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "  %-16s v%d  %s\n", key, p.Version, p.Value)
		}
	}

	fmt.Fprintln(out, "\nwhat Jira's rules refuse:")
	asAlice := userprops.ForActor(store, userprops.Actor{AccountID: alice})
	refused := []struct {
		what string
		err  error
	}{
		{"a value that is not JSON", set(ctx, store, alice, "notes", `{"unclosed": `)},
		{"an empty value", set(ctx, store, alice, "notes", ``)},
		{"a 256-character key", set(ctx, store, alice, strings.Repeat("k", 256), `1`)},
		{"a missing account ID", set(ctx, store, "", "notes", `1`)},
		{"alice writing bob's settings", set(ctx, asAlice, bob, "settings", `{}`)},
		{"reading a property that is not there", get(ctx, store, alice, "missing")},
	}
	for _, r := range refused {
		if r.err == nil {
			return errors.New(r.what + " was accepted")
		}
		fmt.Fprintf(out, "  %-38s %d  %v\n", r.what, userprops.HTTPStatus(r.err), r.err)
	}
	return nil
}

func set(ctx context.Context, s userprops.Store, account, key, value string) error {
	_, err := s.Set(ctx, account, key, []byte(value))
	return err
}

func get(ctx context.Context, s userprops.Store, account, key string) error {
	_, err := s.Get(ctx, account, key)
	return err
}
