package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContextReader_ReadsLikeItsReader(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", 5000) // several of its buffers
	require.NoError(t, iotest.TestReader(newContextReader(context.Background(), strings.NewReader(data)), []byte(data)))
	require.NoError(t, iotest.TestReader(newContextReader(context.Background(), iotest.OneByteReader(strings.NewReader(data[:100]))), []byte(data[:100])))

	// The reader's error comes after its data.
	boom := errors.New("boom")
	r := newContextReader(context.Background(), iotest.DataErrReader(iotest.ErrReader(boom)))
	_, err := r.Read(make([]byte, 1))
	assert.ErrorIs(t, err, boom)
}

func TestContextWriter_WritesLikeItsWriter(t *testing.T) {
	var b bytes.Buffer
	w := newContextWriter(context.Background(), &b)
	for i := range 100 {
		_, err := w.Write([]byte(strings.Repeat("x", i)))
		require.NoError(t, err)
	}
	assert.Equal(t, 99*100/2, b.Len())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newContextWriter(ctx, &b).Write([]byte("late"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, b.String(), "late")
}
