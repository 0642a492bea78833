package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun_TwiceOnOneFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "settings.db")
	var first, second bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-db", db}, &first))
	require.NoError(t, run(context.Background(), []string{"-db", db}, &second))

	assert.Equal(t, 4, strings.Count(first.String(), "created (201)"), first.String())
	assert.Equal(t, 4, strings.Count(second.String(), "updated (200)"), second.String())
	assert.Contains(t, second.String(), `settings         v2  {"theme":"dark","language":"en-GB"}`)
	for _, want := range []string{"400  userprops: property value is not valid JSON", "403  userprops: permission denied",
		"404  userprops: property not found", "400  userprops: account ID is required"} {
		assert.Contains(t, first.String(), want)
	}
}

func TestRun_BadFlag(t *testing.T) {
	var out bytes.Buffer
	assert.Error(t, run(context.Background(), []string{"-nope"}, &out))
}
