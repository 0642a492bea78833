package userprops_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/userprops/userprops"
)

// BenchmarkWatchFanOut measures how long one change takes to reach 1,000
// watchers of a memory store (each watching the account), from the Set to
// the last delivery, beside the floor of any fan-out: 1,000 goroutines woken
// by one sync.Cond broadcast, each answering once.
func BenchmarkWatchFanOut(b *testing.B) {
	const watchers = 1000
	b.Run("memory/Watch", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store := userprops.NewMemory()
		defer store.Close()
		var got atomic.Int64
		arrived := make(chan struct{}, 1)
		var ready, done sync.WaitGroup
		for range watchers {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				first := true
				for _, err := range store.Watch(ctx, "acct", 0) {
					if err != nil {
						return
					}
					if first {
						ready.Done()
						first = false
						continue
					}
					if got.Add(1)%watchers == 0 {
						arrived <- struct{}{}
					}
				}
			}()
		}
		if _, err := store.Set(ctx, "acct", "k", []byte(`0`)); err != nil {
			b.Fatal(err)
		}
		ready.Wait() // every watcher has read the history and waits live
		b.ResetTimer()
		for i := range b.N {
			if _, err := store.Set(ctx, "acct", "k", []byte(fmt.Sprint(i+1))); err != nil {
				b.Fatal(err)
			}
			<-arrived
		}
		b.StopTimer()
		cancel()
		done.Wait()
	})
	b.Run("raw/cond-broadcast", func(b *testing.B) {
		var mu sync.Mutex
		cond := sync.NewCond(&mu)
		gen, stopped := 0, false
		var got atomic.Int64
		arrived := make(chan struct{}, 1)
		var done sync.WaitGroup
		for range watchers {
			done.Add(1)
			go func() {
				defer done.Done()
				seen := 0
				for {
					mu.Lock()
					for gen == seen && !stopped {
						cond.Wait()
					}
					seen = gen
					s := stopped
					mu.Unlock()
					if s {
						return
					}
					if got.Add(1)%watchers == 0 {
						arrived <- struct{}{}
					}
				}
			}()
		}
		b.ResetTimer()
		for range b.N {
			mu.Lock()
			gen++
			mu.Unlock()
			cond.Broadcast()
			<-arrived
		}
		b.StopTimer()
		mu.Lock()
		stopped = true
		mu.Unlock()
		cond.Broadcast()
		done.Wait()
	})
}
