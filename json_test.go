package userprops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

type uiSettings struct {
	Theme   string   `json:"theme"`
	Columns []int    `json:"columns,omitempty"`
	Dense   bool     `json:"dense"`
	Pinned  []string `json:"pinned,omitempty"`
}

func ExampleGetJSON() {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()

	type Settings struct {
		Theme   string `json:"theme"`
		Columns []int  `json:"columns"`
	}
	status, err := userprops.SetJSON(ctx, store, "5b10ac8d82e05b22cc7d4ef5", "settings", Settings{Theme: "dark", Columns: []int{1, 2}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status)

	s, p, err := userprops.GetJSON[Settings](ctx, store, "5b10ac8d82e05b22cc7d4ef5", "settings")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v version %d, stored as %s\n", s, p.Version, p.Value)

	// A stored value that does not fit the type is an error naming both.
	_, _, err = userprops.GetJSON[[]string](ctx, store, "5b10ac8d82e05b22cc7d4ef5", "settings")
	var typeErr *json.UnmarshalTypeError
	fmt.Println(errors.As(err, &typeErr))
	// Output:
	// created
	// {Theme:dark Columns:[1 2]} version 1, stored as {"theme":"dark","columns":[1,2]}
	// true
}

func TestJSON_RoundTrip(t *testing.T) {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()
	want := uiSettings{Theme: "dark <&>", Columns: []int{3, 1}, Dense: true}

	status, err := userprops.SetJSON(ctx, store, "acc", "ui", want)
	require.NoError(t, err)
	assert.Equal(t, userprops.Created, status)
	status, err = userprops.SetJSON(ctx, store, "acc", "ui", &want)
	require.NoError(t, err)
	assert.Equal(t, userprops.Updated, status)

	got, p, err := userprops.GetJSON[uiSettings](ctx, store, "acc", "ui")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, uint64(2), p.Version)
	assert.Equal(t, "ui", p.Key)
	marshalled, err := json.Marshal(want)
	require.NoError(t, err)
	assert.Equal(t, string(marshalled), string(p.Value), "SetJSON stores json.Marshal's bytes")

	// Any T: a pointer, a map, a raw message, a plain value.
	ptr, _, err := userprops.GetJSON[*uiSettings](ctx, store, "acc", "ui")
	require.NoError(t, err)
	assert.Equal(t, want, *ptr)
	m, _, err := userprops.GetJSON[map[string]any](ctx, store, "acc", "ui")
	require.NoError(t, err)
	assert.Equal(t, true, m["dense"])
	_, err = userprops.SetJSON(ctx, store, "acc", "nothing", nil)
	require.NoError(t, err)
	n, p, err := userprops.GetJSON[*int](ctx, store, "acc", "nothing")
	require.NoError(t, err)
	assert.Nil(t, n)
	assert.Equal(t, "null", string(p.Value))
}

func TestGetJSON_Errors(t *testing.T) {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()
	_, err := store.Set(ctx, "acc", "ui", []byte(`{"theme":"dark","columns":"three"}`))
	require.NoError(t, err)

	got, p, err := userprops.GetJSON[uiSettings](ctx, store, "acc", "missing")
	assert.ErrorIs(t, err, userprops.ErrNotFound)
	assert.Zero(t, got)
	assert.Zero(t, p)

	got, p, err = userprops.GetJSON[uiSettings](ctx, store, "acc", "ui")
	var typeErr *json.UnmarshalTypeError
	require.ErrorAs(t, err, &typeErr, "GetJSON of a value that does not fit = %v", err)
	for _, part := range []string{`"ui"`, `"acc"`, "userprops_test.uiSettings", "columns"} {
		assert.Contains(t, err.Error(), part)
	}
	assert.NotErrorIs(t, err, userprops.ErrInvalidJSON, "the stored value is valid JSON")
	assert.Zero(t, got, "a value that does not decode gives a zero T, not a half-filled one")
	assert.Equal(t, `{"theme":"dark","columns":"three"}`, string(p.Value), "the Property read comes back")
	assert.Equal(t, uint64(1), p.Version)

	// The Store's own errors pass through, permissions included.
	view := userprops.ForActor(store, userprops.Actor{AccountID: "other"})
	_, _, err = userprops.GetJSON[uiSettings](ctx, view, "acc", "ui")
	assert.ErrorIs(t, err, userprops.ErrForbidden)
	_, _, err = userprops.GetJSON[uiSettings](ctx, store, "", "ui")
	assert.ErrorIs(t, err, userprops.ErrAccountIDMissing)
}

// deepList returns a value json.Marshal nests depth arrays deep.
func deepList(depth int) any {
	var v any = 1
	for range depth {
		v = []any{v}
	}
	return v
}

func TestSetJSON_Errors(t *testing.T) {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()

	var unsupportedType *json.UnsupportedTypeError
	var unsupportedValue *json.UnsupportedValueError
	var marshaler *json.MarshalerError
	for _, c := range []struct {
		name      string
		account   string
		key       string
		v         any
		want      error
		wantAs    any
		wantParts []string
	}{
		{"too large", "acc", "k", strings.Repeat("x", userprops.MaxValueBytes), userprops.ErrValueTooLarge, nil, []string{"32770 bytes"}},
		{"too deep", "acc", "k", deepList(userprops.MaxValueDepth + 1), userprops.ErrInvalidJSON, nil, []string{"nested more than"}},
		{"channel", "acc", "k", make(chan int), userprops.ErrInvalidJSON, &unsupportedType, []string{"chan int"}},
		{"NaN", "acc", "k", math.NaN(), userprops.ErrInvalidJSON, &unsupportedValue, []string{"NaN"}},
		{"MarshalJSON fails", "acc", "k", failingMarshaler{}, userprops.ErrInvalidJSON, &marshaler, []string{"no encoding today"}},
		{"account first", "", "k", make(chan int), userprops.ErrAccountIDMissing, nil, nil},
		{"then key", "acc", strings.Repeat("k", 300), make(chan int), userprops.ErrKeyTooLong, nil, nil},
	} {
		status, err := userprops.SetJSON(ctx, store, c.account, c.key, c.v)
		assert.ErrorIs(t, err, c.want, c.name)
		assert.Zero(t, status, c.name)
		if c.wantAs != nil {
			assert.ErrorAs(t, err, c.wantAs, c.name)
		}
		for _, part := range c.wantParts {
			assert.ErrorContains(t, err, part, c.name)
		}
		assert.Equal(t, 400, userprops.HTTPStatus(err), c.name)
	}
	keys, err := store.Keys(ctx, "acc")
	require.NoError(t, err)
	assert.Empty(t, keys, "a refused SetJSON stores nothing")

	// Just under the limit, with the quotes json.Marshal adds.
	_, err = userprops.SetJSON(ctx, store, "acc", "k", strings.Repeat("x", userprops.MaxValueBytes-2))
	assert.NoError(t, err)
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no encoding today") }
