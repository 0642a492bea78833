package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/pgstore"
)

// importBatch is how many properties go to the store in one transaction.
const importBatch = 5000

// restorer is a store import can write to: userprops.BoltStore and
// pgstore.Store. Restore writes the properties exactly as given, in one
// transaction, replacing those stored under the same account and key (see
// userprops.BoltStore.Restore).
type restorer interface {
	Restore(ctx context.Context, props []userprops.Property) error
}

var (
	_ restorer = (*userprops.BoltStore)(nil)
	_ restorer = (*pgstore.Store)(nil)
)

// importLines reads JSON Lines (see line) from IN, or stdin for "-", into a
// store: the --db file, created if need be, or the --postgres database. It checks every line first, with the rules of Set, and reports
// each bad one by number on stderr (a line longer than maxLine bytes is a bad
// line too); if any is bad it imports nothing, unless --skip-invalid says to
// import the good ones. Imported properties replace stored ones with the
// same account and key, keeping the file's versions. When the input holds
// one account and key on several valid lines, the last of them wins, the
// others are not imported, and each is named on stderr. It prints
// {"imported":N,"skipped":M}: N properties written (a repeated one counts
// once), M invalid lines.
func importLines(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := newAdminFlags("import", "[--skip-invalid] IN|-", stderr)
	skip := f.fs.Bool("skip-invalid", false, "import the valid lines of a file that has invalid ones")
	if err := f.parse(args, 1, 1); err != nil {
		return err
	}
	in, err := openInput(ctx, f.fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	defer in.Close()

	// First pass: check every line, import nothing yet. last maps each
	// property (by propertyID) to the last valid line that holds it.
	now := time.Now()
	var bad map[int]bool
	last := map[propertyID]int{}
	total := 0
	err = scanLines(ctx, in, func(n int, b []byte, err error) error {
		total = n
		var p userprops.Property
		if err == nil {
			p, err = decodeLine(b, now)
		}
		if err != nil {
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
			if bad == nil {
				bad = map[int]bool{}
			}
			bad[n] = true
			return nil
		}
		id := idOf(p)
		if earlier, ok := last[id]; ok {
			fmt.Fprintf(stderr, "line %d: replaces line %d (same account and key; the last line wins)\n", n, earlier)
		}
		last[id] = n
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 && !*skip {
		return fmt.Errorf("%d of %d lines are invalid; nothing imported (--skip-invalid imports the others)", len(bad), total)
	}

	st, err := f.create(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	store, err := as[restorer](st, "restore properties")
	if err != nil {
		return err
	}
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
	err = scanLines(ctx, in, func(n int, b []byte, err error) error {
		if bad[n] {
			return nil
		}
		var p userprops.Property
		if err == nil {
			p, err = decodeLine(b, now)
		}
		if err != nil {
			return fmt.Errorf("line %d changed during the import: %w", n, err)
		}
		if last[idOf(p)] != n {
			return nil // a later line holds this property
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

// propertyID identifies a property (account and key) in little memory: the
// first 16 bytes of the SHA-256 of both, length-prefixed. Two properties of
// one import share one only by a collision of 128-bit hashes.
type propertyID [16]byte

func idOf(p userprops.Property) propertyID {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(p.AccountID)))])
	io.WriteString(h, p.AccountID)
	io.WriteString(h, p.Key)
	var id propertyID
	copy(id[:], h.Sum(nil))
	return id
}

// errLineTooLong is what scanLines passes for a line longer than maxLine.
var errLineTooLong = fmt.Errorf("longer than %d bytes", maxLine)

// scanLines calls fn with the number and the bytes of each non-empty line of
// r (without its "\n" or "\r\n"), and a nil error; for a line longer than
// maxLine bytes it calls fn with no bytes and errLineTooLong, and goes on
// with the next line. It stops at the first error of fn, of r, or of ctx.
func scanLines(ctx context.Context, r io.Reader, fn func(n int, b []byte, err error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if !tooLong {
				buf = append(buf, chunk...)
				if len(trimEOL(buf)) > maxLine {
					tooLong, buf = true, buf[:0]
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		switch line := trimEOL(buf); {
		case tooLong:
			if ferr := fn(n, nil, errLineTooLong); ferr != nil {
				return ferr
			}
		case len(line) > 0:
			if ferr := fn(n, line, nil); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// trimEOL returns b without the "\n" or "\r\n" it ends with, if any.
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n > 1 && b[n-2] == '\r' {
			b = b[:n-2]
		}
	}
	return b
}

// openInput opens the file to import, which is read twice. Standard input
// ("-") and files that are not regular (a FIFO, or a pipe named as
// /dev/fd/N) are copied to a temporary file first. Opening and copying give
// up when ctx ends (SIGINT or SIGTERM), even if the input never ends.
func openInput(ctx context.Context, name string, stdin io.Reader) (*os.File, error) {
	src := stdin
	if name != "-" {
		f, err := openContext(ctx, name)
		if err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if info.Mode().IsRegular() {
			return f, nil
		}
		defer f.Close()
		src = f
	}
	tmp, err := os.CreateTemp("", "userprops-import-*.jsonl")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // unlinked: it disappears when closed
	if _, err := io.Copy(tmp, newContextReader(ctx, src)); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("reading %s: %w", inputName(name), err)
	}
	// Both passes start at the beginning: the check pass too.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

// inputName names the input name for messages.
func inputName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}
