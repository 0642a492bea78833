package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/atomicfile"
)

// export writes every property of a store, the --db file or the --postgres
// database, as JSON Lines (see line) to OUT, or to stdout for "-" or no
// argument, in (account ID, key) byte order from one consistent snapshot
// (userprops.Scanner), with a progress line on stderr during long runs.
// Stores with the same properties export the same bytes.
func export(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("export", "[OUT|-]", stderr)
	return f.withStore(ctx, args, 0, 1, func(st userprops.Store) error {
		store, err := as[userprops.Scanner](st, "be scanned")
		if err != nil {
			return err
		}
		write := func(w io.Writer) (int64, error) {
			bw := bufio.NewWriterSize(w, 1<<16)
			prog := newProgress(stderr, "exported properties")
			var buf []byte
			err := store.ForEach(ctx, func(p userprops.Property) error {
				var err error
				if buf, err = encodeLine(buf[:0], p); err != nil {
					return err
				}
				prog.add()
				_, err = bw.Write(buf)
				return err
			})
			if err == nil {
				err = bw.Flush()
				prog.done()
			}
			return 0, err
		}
		if out := f.fs.Arg(0); out != "" && out != "-" {
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("%s exists: export into a new file", out)
			}
			_, err := atomicfile.Write(out, write)
			return err
		}
		// Writing gives up on SIGINT/SIGTERM, even if nobody reads stdout.
		_, err = write(newContextWriter(ctx, stdout))
		return err
	})
}
