package main

import (
	"context"
	"io"

	"github.com/userprops/userprops"
)

// keys prints an account's property keys: {"keys":[K,…]}.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("keys", "", stderr)
	return f.withStore(ctx, args, 0, 0, func(store userprops.Store) error {
		ks, err := store.Keys(ctx, f.account)
		if err != nil {
			return err
		}
		return printJSON(stdout, struct {
			Keys []string `json:"keys"`
		}{ks})
	})
}
