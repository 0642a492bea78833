package main

import (
	"bytes"
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
// with the value compacted (white space outside its strings removed; its
// strings are as stored), or, with --raw, the value alone, byte for byte as
// it is stored, white space and all, with no newline added.
func get(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newStoreFlags("get", "[--raw] KEY", stderr)
	raw := f.fs.Bool("raw", false, "print the value alone, exactly as it is stored")
	return f.withStore(ctx, args, 1, 1, func(store userprops.Store) error {
		p, err := store.Get(ctx, f.account, f.fs.Arg(0))
		if err != nil {
			return err
		}
		if *raw {
			_, err := stdout.Write(p.Value)
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
		// json.Compact, not encoding/json's RawMessage, which would also
		// escape <, > and & in the value's strings.
		out := bytes.NewBuffer(append(meta[:len(meta)-1], `,"value":`...))
		if err := json.Compact(out, p.Value); err != nil {
			return err // the store accepted only valid JSON
		}
		out.WriteString("}\n")
		_, err = stdout.Write(out.Bytes())
		return err
	})
}
