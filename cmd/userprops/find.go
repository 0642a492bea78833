package main

import (
	"context"
	"io"

	"github.com/userprops/userprops"
)

// find prints one page of the accounts whose properties match a structured
// query (userprops.ParseQuery), in ascending order, and how many match in
// all: {"accountIds":[A,…],"total":N}. --start-at and --max-results choose
// the page (0 and userprops.DefaultPageSize; at most MaxPageSize). An
// invalid query is a failure (exit 1) whose message says where and what was
// expected.
func find(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("find", "[--start-at N] [--max-results N] QUERY", wholeStore, stderr)
	var page userprops.Page
	f.fs.IntVar(&page.StartAt, "start-at", 0, "skip the first `N` matches")
	f.fs.IntVar(&page.MaxResults, "max-results", userprops.DefaultPageSize, "print at most `N` account IDs (at most 1000)")
	if err := f.parse(args, 1, 1); err != nil {
		return err
	}
	// The query is checked before the store is opened, so that a typo
	// neither waits on a locked file nor builds an index.
	q, err := userprops.ParseQuery(f.fs.Arg(0))
	if err != nil {
		return err
	}
	store, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	found, err := store.Find(ctx, q, page)
	if err != nil {
		return err
	}
	return printJSON(stdout, struct {
		AccountIDs []string `json:"accountIds"`
		Total      int      `json:"total"`
	}{found.AccountIDs, found.Total})
}
