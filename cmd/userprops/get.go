package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/userprops/userprops"
)

// get prints one property as one line of JSON,
//
//	{"key":K,"version":N,"updatedAt":T,"value":V}
//
// with the value exactly as it is stored.
func get(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("get", "KEY", stderr)
	return f.withStore(ctx, args, 1, 1, func(store userprops.Store) error {
		p, err := store.Get(ctx, f.account, f.fs.Arg(0))
		if err != nil {
			return err
		}
		meta, err := json.Marshal(struct {
			Key       string    `json:"key"`
			Version   uint64    `json:"version"`
			UpdatedAt time.Time `json:"updatedAt"`
		}{p.Key, p.Version, p.UpdatedAt})
		if err != nil {
			return err
		}
		// encoding/json would compact the value; splice it in as it is.
		out := append(meta[:len(meta)-1], `,"value":`...)
		out = append(out, p.Value...)
		_, err = stdout.Write(append(out, "}\n"...))
		return err
	})
}
