package userprops_test

import (
	"context"
	"fmt"
	"log"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userprops/userprops"
)

// TestForActor_HeadRevisioner: a ForActor view tells the head exactly when
// its store does, to every authenticated actor.
func TestForActor_HeadRevisioner(t *testing.T) {
	ctx := context.Background()
	mem := userprops.NewMemory()
	t.Cleanup(func() { mem.Close() })
	_, err := mem.Set(ctx, "a", "k", []byte(`1`))
	require.NoError(t, err)

	hidden := struct{ userprops.Store }{mem} // the Store methods only
	_, ok := userprops.ForActor(hidden, userprops.Actor{AccountID: "a", Admin: true}).(userprops.HeadRevisioner)
	assert.False(t, ok, "a view of a store without HeadRevision has none")

	for _, a := range []userprops.Actor{{AccountID: "a"}, {AccountID: "b"}, {AccountID: "root", Admin: true}} {
		view := userprops.ForActor(mem, a)
		h, err := view.(userprops.HeadRevisioner).HeadRevision(ctx)
		require.NoError(t, err, "%+v", a)
		assert.EqualValues(t, 1, h, "%+v", a)
		require.NoError(t, view.Close())
		_, err = view.(userprops.HeadRevisioner).HeadRevision(ctx)
		assert.ErrorIs(t, err, userprops.ErrClosed, "a closed view")
	}
	_, err = userprops.ForActor(mem, userprops.Actor{}).(userprops.HeadRevisioner).HeadRevision(ctx)
	assert.ErrorIs(t, err, userprops.ErrUnauthorized)
}

// ExampleHeadRevisioner reads a store's properties and then follows their
// changes from the head taken before the read: a change made meanwhile is
// delivered (it may already be in what was read), and none is missed.
func ExampleHeadRevisioner() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := userprops.NewMemory()
	defer store.Close()
	if _, err := store.Set(ctx, "alice", "theme", []byte(`"dark"`)); err != nil {
		log.Fatal(err)
	}

	head, err := store.HeadRevision(ctx)
	if err != nil {
		log.Fatal(err)
	}
	p, err := store.Get(ctx, "alice", "theme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read:", string(p.Value), "at head", head)

	if _, err := store.Set(ctx, "alice", "theme", []byte(`"light"`)); err != nil {
		log.Fatal(err)
	}
	for c, err := range store.Watch(ctx, "alice", head) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("change:", c.Revision, c.Key, string(c.Value))
		break
	}
	// Output:
	// read: "dark" at head 1
	// change: 2 theme "light"
}
