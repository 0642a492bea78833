package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/userprops/userprops"
)

// watch prints the changes of a store as JSON Lines, one change a line,
//
//	{"accountId":A,"key":K,"revision":R,"value":V}   a set
//	{"accountId":A,"key":K,"revision":R,"deleted":true}   a delete
//
// from the history after --after (0, the default: all it keeps; "now":
// only changes from now on), then live as they are made, until SIGINT or
// SIGTERM (exit status 0). --account limits it to one account. On a store
// file it sees the changes made through that process only, so it is for a
// file no server holds (watch a running server's /userprops/1/changes
// instead); on PostgreSQL it sees those of every process. A history that no
// longer holds the changes after --after is an error that says which
// revision it holds from.
func watch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("watch", "[--account ID] [--after REVISION|now]", wholeStore, stderr)
	account := f.fs.String("account", "", "watch this account `ID` only (default: every account)")
	afterFlag := f.fs.String("after", "0", "print the changes after this `revision`, or \"now\" for new ones only")
	if err := f.parse(args, 0, 0); err != nil {
		return err
	}
	after := userprops.FromNow
	if *afterFlag != "now" {
		n, err := strconv.ParseUint(*afterFlag, 10, 64)
		if err != nil {
			return usageError{"--after takes a revision (a decimal number) or \"now\", not " + strconv.Quote(*afterFlag)}
		}
		after = n
	}
	store, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	out := bufio.NewWriter(newContextWriter(ctx, stdout))
	for c, err := range store.Watch(ctx, *account, after) {
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return out.Flush() // SIGINT or SIGTERM: done
			}
			return err
		}
		line := struct {
			AccountID string          `json:"accountId"`
			Key       string          `json:"key"`
			Revision  uint64          `json:"revision"`
			Deleted   bool            `json:"deleted,omitempty"`
			Value     json.RawMessage `json:"value,omitempty"`
		}{c.AccountID, c.Key, c.Revision, c.Deleted, c.Value}
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		out.Write(append(b, '\n'))
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return out.Flush()
}
