package userprops

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagerView is an indexed FindView that can page one term, "sx", whose
// entries are a..e; it can neither list nor scan, so an answer proves
// Evaluate paged.
type pagerView struct{ paged int }

func (*pagerView) Indexed(Index) bool { return true }
func (*pagerView) Lookup(context.Context, Index, string) ([]string, error) {
	panic("Lookup: Evaluate should have paged")
}
func (*pagerView) Scan(context.Context, string, func(string, []byte) bool) error {
	panic("Scan: Evaluate should have paged")
}
func (*pagerView) Value(context.Context, string, string) ([]byte, bool, error) {
	panic("Value: Evaluate should have paged")
}
func (v *pagerView) TermPage(_ context.Context, _ Index, term string, start, n int) ([]string, int, bool, error) {
	all := []string{"a", "b", "c", "d", "e"}
	if term != "sx" {
		return nil, 0, true, nil
	}
	v.paged++
	end := min(len(all), start+n)
	return all[start:end], len(all), true, nil
}

func TestEvaluate_PagesOneTerm(t *testing.T) {
	v := &pagerView{}
	found, err := Evaluate(context.Background(), v, Where("k", "p", "x"), Page{StartAt: 1, MaxResults: 2})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{"b", "c"}, Total: 5}, found)
	found, err = Evaluate(context.Background(), v, Where("k", "p", "nothing"), Page{MaxResults: 2})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{}, Total: 0}, found)
	found, err = Evaluate(context.Background(), v, Where("k", "p", "x"), Page{StartAt: 9, MaxResults: 2})
	require.NoError(t, err)
	assert.Equal(t, Found{AccountIDs: []string{}, Total: 5}, found)
}
