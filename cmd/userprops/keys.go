package main

import (
	"context"
	"io"
)

// keys prints an account's property keys: {"keys":[K,…]}.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("keys", "", stderr)
	if err := f.parse(args, 0, 0); err != nil {
		return err
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	ks, err := store.Keys(ctx, f.account)
	if err != nil {
		return err
	}
	return printJSON(stdout, struct {
		Keys []string `json:"keys"`
	}{ks})
}
