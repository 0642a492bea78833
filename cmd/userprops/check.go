package main

import (
	"context"
	"io"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/pgstore"
)

// checker is a store check can verify: userprops.BoltStore and
// pgstore.Store. Check returns nil, or an error wrapping
// userprops.ErrCorrupt that describes the damage.
type checker interface {
	Check(ctx context.Context) error
}

var (
	_ checker = (*userprops.BoltStore)(nil)
	_ checker = (*pgstore.Store)(nil)
)

// check verifies a whole store, the --db file (see userprops.BoltStore.Check)
// or the --postgres database (pgstore.Store.Check), and prints {"ok":true};
// damage is an error (exit status 1) that describes it.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("check", "", stderr)
	return f.withStore(ctx, args, 0, 0, func(store userprops.Store) error {
		c, err := as[checker](store, "be checked")
		if err != nil {
			return err
		}
		if err := c.Check(ctx); err != nil {
			return err
		}
		return printJSON(stdout, struct {
			OK bool `json:"ok"`
		}{true})
	})
}
