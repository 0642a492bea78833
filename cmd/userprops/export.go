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

// export writes every property of a store file as JSON Lines (see line) to
// OUT, or to stdout for "-" or no argument, from one consistent snapshot,
// with a progress line on stderr during long runs.
func export(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("export", "[OUT|-]", stderr)
	return f.withFile(args, 0, 1, func(store *userprops.BoltStore) error {
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
		_, err := write(newContextWriter(ctx, stdout))
		return err
	})
}
