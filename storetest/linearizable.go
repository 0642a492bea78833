package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// The linearizability check: clients call Set, Get, Delete, Keys, SetIf and
// DeleteIf at once on a few accounts and keys, every call is recorded with
// the times it began and ended, and porcupine searches for an order of the
// calls, consistent with those times, in which every answer is what Jira's
// semantics give (Created/Updated and versions included) and what
// compare-and-set on revisions gives. One account's calls never affect
// another's, so the history is checked per account.
//
// The model cannot know the revision a plain Set gives; it learns it from
// the first Get or SetIf that reports it. Until then no SetIf or DeleteIf on
// a non-zero revision may succeed: revisions are never reused, so a client
// can only hold the revision of a change it has observed.

type linOp int

const (
	linSet linOp = iota
	linGet
	linDelete
	linKeys
	linSetIf
	linDeleteIf
)

type linInput struct {
	op      linOp
	account string
	key     string
	value   string // linSet, linSetIf
	rev     uint64 // linSetIf, linDeleteIf
}

type linOutput struct {
	status   userprops.Status // linSet
	value    string           // linGet
	version  uint64           // linGet
	notFound bool             // linGet, linDelete, linDeleteIf
	keys     string           // linKeys: joined with "\x00"
	revision uint64           // linGet, linSetIf: the property's revision
	mismatch bool             // linSetIf, linDeleteIf
}

// linState is one account's properties, encoded so that states compare with
// ==: "key\x01value\x01version\x01revision\x00…", keys in order.
type linState string

type linEntry struct {
	value    string
	version  uint64
	revision uint64 // 0: not yet known (a Set's)
}

func (s linState) decode() map[string]linEntry {
	m := map[string]linEntry{}
	if s == "" {
		return m
	}
	for _, e := range strings.Split(string(s), "\x00") {
		f := strings.Split(e, "\x01")
		var v, r uint64
		fmt.Sscan(f[2], &v)
		fmt.Sscan(f[3], &r)
		m[f[0]] = linEntry{f[1], v, r}
	}
	return m
}

func encodeState(m map[string]linEntry) linState {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s\x01%s\x01%d\x01%d", k, m[k].value, m[k].version, m[k].revision)
	}
	return linState(strings.Join(parts, "\x00"))
}

// linModel is Jira's user-property semantics for one account.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byAccount := map[string][]porcupine.Operation{}
		for _, op := range history {
			a := op.Input.(linInput).account
			byAccount[a] = append(byAccount[a], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byAccount {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState("") },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(linState), input.(linInput), output.(linOutput)
		m := st.decode()
		old, exists := m[in.key]
		switch in.op {
		case linSet:
			want, version := userprops.Created, uint64(1)
			if exists {
				want, version = userprops.Updated, old.version+1
			}
			if out.status != want {
				return false, st
			}
			m[in.key] = linEntry{in.value, version, 0}
			return true, encodeState(m)
		case linGet:
			if !exists {
				return out.notFound, st
			}
			if out.notFound || out.value != old.value || out.version != old.version ||
				(old.revision != 0 && out.revision != old.revision) {
				return false, st
			}
			old.revision = out.revision // learnt, if it was not known
			m[in.key] = old
			return true, encodeState(m)
		case linSetIf:
			match := (in.rev == 0 && !exists) || (in.rev != 0 && exists && old.revision == in.rev)
			if !match {
				return out.mismatch, st
			}
			if out.mismatch || out.revision == 0 {
				return false, st
			}
			version := uint64(1)
			if exists {
				version = old.version + 1
			}
			m[in.key] = linEntry{in.value, version, out.revision}
			return true, encodeState(m)
		case linDeleteIf:
			switch {
			case in.rev == 0 && !exists:
				return out.notFound, st
			case in.rev == 0 || !exists || old.revision != in.rev:
				// 0 never matches an existing property, whose revision
				// the model may not know yet (0 there too).
				return out.mismatch, st
			case out.mismatch || out.notFound:
				return false, st
			}
			delete(m, in.key)
			return true, encodeState(m)
		case linDelete:
			if !exists {
				return out.notFound, st
			}
			if out.notFound {
				return false, st
			}
			delete(m, in.key)
			return true, encodeState(m)
		default:
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range m {
					if !yield(k) {
						return
					}
				}
			})
			return out.keys == strings.Join(keys, "\x00"), st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch in.op {
		case linSet:
			return fmt.Sprintf("Set(%s, %s, %s) → %v", in.account, in.key, in.value, out.status)
		case linGet:
			if out.notFound {
				return fmt.Sprintf("Get(%s, %s) → not found", in.account, in.key)
			}
			return fmt.Sprintf("Get(%s, %s) → %s v%d r%d", in.account, in.key, out.value, out.version, out.revision)
		case linDelete:
			return fmt.Sprintf("Delete(%s, %s) → not found: %v", in.account, in.key, out.notFound)
		case linSetIf:
			return fmt.Sprintf("SetIf(%s, %s, %s, r%d) → r%d mismatch: %v", in.account, in.key, in.value, in.rev, out.revision, out.mismatch)
		case linDeleteIf:
			return fmt.Sprintf("DeleteIf(%s, %s, r%d) → not found: %v, mismatch: %v", in.account, in.key, in.rev, out.notFound, out.mismatch)
		default:
			return fmt.Sprintf("Keys(%s) → %q", in.account, strings.Split(out.keys, "\x00"))
		}
	},
}

func (s suite) testLinearizable(t *testing.T) {
	const clients, opsPerClient = 8, 120
	accounts := []string{"alice", "bob"}
	keys := []string{"a", "b", "c"}
	st := s.fresh(t)
	ctx := context.Background()
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 42))
			// The revision this client last saw of each property, which its
			// SetIfs and DeleteIfs are conditioned on (or 0).
			seen := map[[2]string]uint64{}
			for i := range opsPerClient {
				in := linInput{account: accounts[r.IntN(len(accounts))], key: keys[r.IntN(len(keys))]}
				ref := [2]string{in.account, in.key}
				switch n := r.IntN(100); {
				case n < 25:
					in.op, in.value = linSet, fmt.Sprintf(`"c%d-%d"`, c, i)
				case n < 50:
					in.op = linGet
				case n < 60:
					in.op = linDelete
				case n < 70:
					in.op = linKeys
				case n < 88:
					in.op, in.value, in.rev = linSetIf, fmt.Sprintf(`"c%d-%d"`, c, i), seen[ref]
				default:
					in.op, in.rev = linDeleteIf, seen[ref]
				}
				call := time.Since(start).Nanoseconds()
				out, err := linCall(ctx, st, in)
				ret := time.Since(start).Nanoseconds()
				if !assertNoErr(t, err, in) {
					return
				}
				switch {
				case (in.op == linGet || in.op == linSetIf) && out.revision != 0:
					seen[ref] = out.revision
				case out.mismatch && r.IntN(2) == 0:
					seen[ref] = 0 // try a create next time
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, history, clients*opsPerClient, "some calls failed")
	result, info := porcupine.CheckOperationsVerbose(linModel, history, time.Minute)
	if result != porcupine.Ok {
		// Kept after the test, for a person to open in a browser.
		if f, err := os.CreateTemp("", "userprops-history-*.html"); err == nil {
			if porcupine.Visualize(linModel, info, f) == nil {
				t.Logf("visualisation of the history: %s", f.Name())
			}
			f.Close()
		}
	}
	require.Equal(t, porcupine.Ok, result, "the history of %d calls is not linearizable", len(history))
}

// linCall performs one recorded call.
func linCall(ctx context.Context, st userprops.Store, in linInput) (linOutput, error) {
	var out linOutput
	var err error
	switch in.op {
	case linSet:
		out.status, err = st.Set(ctx, in.account, in.key, []byte(in.value))
	case linGet:
		var p userprops.Property
		p, err = st.Get(ctx, in.account, in.key)
		out.value, out.version, out.revision = string(p.Value), p.Version, p.Revision
	case linSetIf:
		out.revision, err = st.SetIf(ctx, in.account, in.key, []byte(in.value), in.rev)
	case linDeleteIf:
		err = st.DeleteIf(ctx, in.account, in.key, in.rev)
	case linDelete:
		err = st.Delete(ctx, in.account, in.key)
	default:
		var ks []string
		ks, err = st.Keys(ctx, in.account)
		out.keys = strings.Join(ks, "\x00")
	}
	switch {
	case errors.Is(err, userprops.ErrNotFound):
		out.notFound, err = true, nil
	case errors.Is(err, userprops.ErrRevisionMismatch):
		out.mismatch, err = true, nil
	}
	return out, err
}

func assertNoErr(t *testing.T, err error, in linInput) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%v on %+v", err, in)
		return false
	}
	return true
}
