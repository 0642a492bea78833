package httpapi

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// shiftingStore answers Find from a sorted list of matches, and calls
// change after each Find, as a concurrent writer would between two pages.
type shiftingStore struct {
	userprops.Store // nil: only Find is called
	matches         []string
	finds           int
	change          func(s *shiftingStore)
}

func (s *shiftingStore) Find(_ context.Context, _ userprops.Query, p userprops.Page) (userprops.Found, error) {
	s.finds++
	found := userprops.Found{AccountIDs: []string{}, Total: len(s.matches)}
	if p.StartAt < len(s.matches) {
		found.AccountIDs = slices.Clone(s.matches[p.StartAt:min(len(s.matches), p.StartAt+p.MaxResults)])
	}
	if s.change != nil {
		s.change(s)
	}
	return found, nil
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("u%06d", i))
	}
	return out
}

// walk returns what walkFind passes on from s.
func walk(t *testing.T, s *shiftingStore) []string {
	t.Helper()
	var got []string
	require.NoError(t, walkFind(context.Background(), s, userprops.Where("k", "", 1), func(id string) bool {
		got = append(got, id)
		return true
	}))
	return got
}

func TestWalkFind_Steady(t *testing.T) {
	for _, n := range []int{0, 1, userprops.MaxPageSize - 1, userprops.MaxPageSize, userprops.MaxPageSize + 1, 3*userprops.MaxPageSize + 7} {
		s := &shiftingStore{matches: ids(0, n)}
		assert.Equal(t, ids(0, n), walk(t, s), "n=%d", n)
		assert.LessOrEqual(t, s.finds, n/(userprops.MaxPageSize-1)+1, "n=%d: pages read", n)
	}
}

func TestWalkFind_Stops(t *testing.T) {
	s := &shiftingStore{matches: ids(0, 3000)}
	n := 0
	require.NoError(t, walkFind(context.Background(), s, userprops.Where("k", "", 1), func(string) bool {
		n++
		return n < 10
	}))
	assert.Equal(t, 10, n)
	assert.Equal(t, 1, s.finds)
}

func TestWalkFind_WritesBetweenPages(t *testing.T) {
	const n = 3500
	for _, c := range []struct {
		name   string
		change func(s *shiftingStore)
	}{
		// 1500 matches before the first page's end go away: a walk by
		// position alone would skip 1500 accounts.
		{"deletes before", func(s *shiftingStore) {
			if s.finds == 1 {
				s.matches = slices.Delete(s.matches, 0, 1500)
			}
		}},
		// Matches are added before the boundary: a walk by position alone
		// would pass accounts twice.
		{"inserts before", func(s *shiftingStore) {
			if s.finds <= 2 {
				extra := []string{fmt.Sprintf("t%06d", s.finds), fmt.Sprintf("t%06d", s.finds+10)}
				s.matches = append(extra, s.matches...)
			}
		}},
		{"the last one passed goes away", func(s *shiftingStore) {
			if s.finds == 1 {
				s.matches = slices.Delete(s.matches, 999, 1000)
			}
		}},
		{"the tail goes away", func(s *shiftingStore) {
			if s.finds == 2 {
				s.matches = s.matches[:1200]
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &shiftingStore{matches: ids(0, n), change: c.change}
			got := walk(t, s)
			assert.True(t, slices.IsSorted(got), "in order")
			assert.Equal(t, len(got), len(slices.Compact(slices.Clone(got))), "each once")
			// Every account that matched throughout was passed on.
			passed := map[string]bool{}
			for _, id := range got {
				passed[id] = true
			}
			for _, id := range s.matches {
				if id[0] == 'u' && !passed[id] {
					t.Errorf("%s matched throughout and was not passed on", id)
				}
			}
		})
	}
}
