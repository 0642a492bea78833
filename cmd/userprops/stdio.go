package main

import (
	"context"
	"io"
	"os"
)

// Reads from stdin, from a FIFO or a terminal, and writes to a pipe nobody
// reads, can block for ever, and a blocked read or write does not notice a
// context: these helpers run them on a goroutine of their own and give up
// when the context ends (SIGINT or SIGTERM), so that every command ends on
// those signals. A read or write given up on is abandoned: its goroutine
// ends when the call returns, if ever; the process normally exits first.

// contextReader is an io.Reader whose Read returns ctx's error as soon as
// ctx ends, even while the underlying Read blocks. It reads r on a
// goroutine, one Read at a time, into a buffer of its own. After ctx ends,
// every Read returns ctx's error. It is not safe for concurrent use.
type contextReader struct {
	ctx     context.Context
	r       io.Reader
	buf     []byte
	pending chan readResult // the Read in progress, if any; it owns buf
	left    []byte          // read from r, not yet returned
	err     error           // r's error, to return after left
}

type readResult struct {
	n   int
	err error
}

func newContextReader(ctx context.Context, r io.Reader) *contextReader {
	return &contextReader{ctx: ctx, r: r}
}

func (c *contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.left) == 0 && c.err == nil {
		if c.pending == nil {
			if c.buf == nil {
				c.buf = make([]byte, 32<<10)
			}
			done := make(chan readResult, 1)
			c.pending = done
			go func(buf []byte) {
				n, err := c.r.Read(buf)
				done <- readResult{n, err}
			}(c.buf)
		}
		select {
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		case res := <-c.pending:
			c.pending = nil
			c.left, c.err = c.buf[:res.n], res.err
		}
	}
	if len(c.left) == 0 {
		return 0, c.err
	}
	n := copy(p, c.left)
	c.left = c.left[n:]
	return n, nil
}

// contextWriter is an io.Writer whose Write returns ctx's error as soon as
// ctx ends, even while the underlying Write blocks. It writes a copy of
// what it is given to w on a goroutine. After ctx ends, or after w fails,
// every Write fails. It is not safe for concurrent use.
type contextWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func newContextWriter(ctx context.Context, w io.Writer) *contextWriter {
	return &contextWriter{ctx: ctx, w: w}
}

func (c *contextWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	own := append([]byte(nil), p...) // an abandoned Write may still read it
	done := make(chan readResult, 1)
	go func() {
		n, err := c.w.Write(own)
		done <- readResult{n, err}
	}()
	select {
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return 0, c.err
	case res := <-done:
		c.err = res.err
		return res.n, res.err
	}
}

// openContext opens the file name for reading, giving up when ctx ends:
// opening a FIFO waits for a writer.
func openContext(ctx context.Context, name string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(name)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
