// Command livesettings shows several processes editing one user setting at
// the same time without losing an edit, and another one watching it change.
//
//	go run ./examples/livesettings             # 2 editors, 20 edits each
//	go run ./examples/livesettings -edits 100  # more edits, more conflicts
//
// It serves a store over userprops' REST API on a loopback port (the server
// `userprops serve` runs, here in-process on a memory store), then starts
// itself three times: two editors, which each add to their own counter in one
// shared property with a compare-and-set retry loop (Get, change, SetIf on
// the revision read; on ErrRevisionMismatch read again), and a watcher,
// which prints every change of the property as the change feed delivers it.
// At the end the property must hold every edit of both editors; it exits 1
// if one was lost.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/remote"
)

// The account and property the processes share.
const (
	accountID = "5b10ac8d82e05b22cc7d4ef5"
	key       = "editor.counters"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if len(os.Args) > 1 && (os.Args[1] == "edit" || os.Args[1] == "watch") {
		err = child(ctx, os.Args[1], os.Args[2:], os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "livesettings:", err)
		os.Exit(1)
	}
}

// counters is the shared property: each editor's number of edits.
type counters map[string]int

// run serves a store, starts the editors and the watcher, and checks the
// result.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("livesettings", flag.ContinueOnError)
	edits := fs.Int("edits", 20, "edits per editor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := randomToken()
	accounts, err := httpapi.NewAccounts([]httpapi.Account{{AccountID: accountID, Email: "ada@example.com", APIToken: token}})
	if err != nil {
		return err
	}
	store := userprops.NewMemory(userprops.WithDirectory(accounts))
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The request log would drown the editors' and the watcher's lines.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &http.Server{Handler: httpapi.New(store, accounts, httpapi.WithLogger(quiet))}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "serving on %s\n", url)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), "LIVESETTINGS_URL="+url, "LIVESETTINGS_TOKEN="+token)
	start := func(args ...string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, out, os.Stderr
		return cmd, cmd.Start()
	}
	// The watcher reads the property's changes from the first revision of
	// this fresh store on, so it misses none however soon the editors
	// start, and stops after two editors' worth.
	watcher, err := start("watch", "-changes", strconv.Itoa(2**edits))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, name := range []string{"alice", "bob"} {
		cmd, err := start("edit", "-name", name, "-edits", strconv.Itoa(*edits))
		if err != nil {
			return err
		}
		wg.Go(func() { errs <- cmd.Wait() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return fmt.Errorf("an editor failed: %w", err)
		}
	}
	if err := watcher.Wait(); err != nil {
		return fmt.Errorf("the watcher failed: %w", err)
	}
	final, p, err := userprops.GetJSON[counters](ctx, store, accountID, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "final value at revision %d: %v\n", p.Revision, final)
	if final["alice"] != *edits || final["bob"] != *edits {
		return fmt.Errorf("an edit was lost: want %d each, have %v", *edits, final)
	}
	fmt.Fprintln(out, "no edit lost")
	return nil
}

// child runs an editor or the watcher, talking to the server as a client.
func child(ctx context.Context, mode string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	name := fs.String("name", "", "the editor's name")
	edits := fs.Int("edits", 20, "edits to make")
	changes := fs.Int("changes", 0, "changes to print before stopping")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := remote.Open(os.Getenv("LIVESETTINGS_URL"), remote.WithBasicAuth("ada@example.com", os.Getenv("LIVESETTINGS_TOKEN")))
	if err != nil {
		return err
	}
	defer store.Close()
	if mode == "watch" {
		return watch(ctx, store, *changes, out)
	}
	return edit(ctx, store, *name, *edits, out)
}

// edit adds one to the editor's counter, edits times, each as a
// compare-and-set: read the property and its revision, change the value,
// and store it only if nobody stored another since; if somebody did, read
// again. It never overwrites an edit it has not seen.
func edit(ctx context.Context, store userprops.Store, name string, edits int, out io.Writer) error {
	retries := 0
	for range edits {
		for {
			var c counters
			var rev uint64
			p, err := store.Get(ctx, accountID, key)
			switch {
			case errors.Is(err, userprops.ErrNotFound):
				c = counters{} // rev 0: create it, unless someone else does first
			case err != nil:
				return err
			default:
				if err := json.Unmarshal(p.Value, &c); err != nil {
					return err
				}
				rev = p.Revision
			}
			c[name]++
			value, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := store.SetIf(ctx, accountID, key, value, rev); errors.Is(err, userprops.ErrRevisionMismatch) {
				retries++
				continue // another editor came first: read its edit and go again
			} else if err != nil {
				return err
			}
			break
		}
	}
	fmt.Fprintf(out, "%s: %d edits, %d retries after another editor came first\n", name, edits, retries)
	return nil
}

// watch prints the first n changes of the shared property.
func watch(ctx context.Context, store userprops.Store, n int, out io.Writer) error {
	seen := 0
	for c, err := range store.Watch(ctx, accountID, 0) {
		if err != nil {
			return err
		}
		if c.Key != key {
			continue
		}
		fmt.Fprintf(out, "watcher: revision %d: %s\n", c.Revision, c.Value)
		if seen++; seen == n {
			return nil
		}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
