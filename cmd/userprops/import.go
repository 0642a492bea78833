package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/userprops/userprops"
)

// importBatch is how many properties go to the store in one transaction.
const importBatch = 5000

// importLines reads JSON Lines (see line) from IN, or stdin for "-", into a
// store file. It checks every line first, with the rules of Set, and reports
// each bad one by number on stderr; if any is bad it imports nothing, unless
// --skip-invalid says to import the good ones. Imported properties replace
// stored ones with the same account and key, keeping the file's versions.
// It prints {"imported":N,"skipped":M}.
func importLines(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newFileFlags("import", "[--skip-invalid] IN|-", stderr)
	skip := f.fs.Bool("skip-invalid", false, "import the valid lines of a file that has invalid ones")
	if err := f.parse(args, 1, 1); err != nil {
		return err
	}
	in, err := openInput(f.fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	defer in.Close()

	// First pass: check every line, import nothing yet.
	now := time.Now()
	var bad map[int]bool
	total := 0
	err = scanLines(in, func(n int, b []byte) error {
		total = n
		if _, err := decodeLine(b, now); err != nil {
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
			if bad == nil {
				bad = map[int]bool{}
			}
			bad[n] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 && !*skip {
		return fmt.Errorf("%d of %d lines are invalid; nothing imported (--skip-invalid imports the others)", len(bad), total)
	}

	store, err := userprops.OpenBolt(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	prog := newProgress(stderr, "imported properties")
	batch := make([]userprops.Property, 0, importBatch)
	flush := func() error {
		if err := store.Restore(ctx, batch); err != nil {
			return fmt.Errorf("after %d properties: %w", prog.n-len(batch), err)
		}
		batch = batch[:0]
		return nil
	}
	err = scanLines(in, func(n int, b []byte) error {
		if bad[n] {
			return nil
		}
		p, err := decodeLine(b, now)
		if err != nil {
			return fmt.Errorf("line %d changed during the import: %w", n, err)
		}
		batch = append(batch, p)
		prog.add()
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return err
	}
	prog.done()
	return printJSON(stdout, struct {
		Imported int `json:"imported"`
		Skipped  int `json:"skipped"`
	}{prog.n, len(bad)})
}

// scanLines calls fn with each non-empty line of r and its number.
func scanLines(r io.Reader, fn func(n int, b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(n, sc.Bytes()); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("a line is longer than %d bytes", maxLine)
	}
	return sc.Err()
}

// openInput opens the file to import, which is read twice. Standard input
// ("-") is copied to a temporary file first.
func openInput(name string, stdin io.Reader) (*os.File, error) {
	if name != "-" {
		return os.Open(name)
	}
	tmp, err := os.CreateTemp("", "userprops-import-*.jsonl")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // unlinked: it disappears when closed
	if _, err := io.Copy(tmp, stdin); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	// Both passes start at the beginning: the check pass too.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}
