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

// The linearizability check: clients call Set, Get, Delete and Keys at once
// on a few accounts and keys, every call is recorded with the times it began
// and ended, and porcupine searches for an order of the calls, consistent
// with those times, in which every answer is what Jira's semantics give
// (Created/Updated and versions included). One account's calls never affect
// another's, so the history is checked per account.

type linOp int

const (
	linSet linOp = iota
	linGet
	linDelete
	linKeys
)

type linInput struct {
	op      linOp
	account string
	key     string
	value   string // linSet
}

type linOutput struct {
	status   userprops.Status // linSet
	value    string           // linGet
	version  uint64           // linGet
	notFound bool             // linGet, linDelete
	keys     string           // linKeys: joined with "\x00"
}

// linState is one account's properties, encoded so that states compare with
// ==: "key\x01value\x01version\x00…", keys in order.
type linState string

type linEntry struct {
	value   string
	version uint64
}

func (s linState) decode() map[string]linEntry {
	m := map[string]linEntry{}
	if s == "" {
		return m
	}
	for _, e := range strings.Split(string(s), "\x00") {
		f := strings.Split(e, "\x01")
		var v uint64
		fmt.Sscan(f[2], &v)
		m[f[0]] = linEntry{f[1], v}
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
		parts[i] = fmt.Sprintf("%s\x01%s\x01%d", k, m[k].value, m[k].version)
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
			m[in.key] = linEntry{in.value, version}
			return true, encodeState(m)
		case linGet:
			if !exists {
				return out.notFound, st
			}
			return !out.notFound && out.value == old.value && out.version == old.version, st
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
			return fmt.Sprintf("Get(%s, %s) → %s v%d", in.account, in.key, out.value, out.version)
		case linDelete:
			return fmt.Sprintf("Delete(%s, %s) → not found: %v", in.account, in.key, out.notFound)
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
			for i := range opsPerClient {
				in := linInput{account: accounts[r.IntN(len(accounts))], key: keys[r.IntN(len(keys))]}
				switch n := r.IntN(100); {
				case n < 40:
					in.op, in.value = linSet, fmt.Sprintf(`"c%d-%d"`, c, i)
				case n < 70:
					in.op = linGet
				case n < 85:
					in.op = linDelete
				default:
					in.op = linKeys
				}
				call := time.Since(start).Nanoseconds()
				out, err := linCall(ctx, st, in)
				ret := time.Since(start).Nanoseconds()
				if !assertNoErr(t, err, in) {
					return
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
		out.value, out.version = string(p.Value), p.Version
	case linDelete:
		err = st.Delete(ctx, in.account, in.key)
	default:
		var ks []string
		ks, err = st.Keys(ctx, in.account)
		out.keys = strings.Join(ks, "\x00")
	}
	if errors.Is(err, userprops.ErrNotFound) {
		out.notFound, err = true, nil
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
