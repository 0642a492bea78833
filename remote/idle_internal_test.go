package remote

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/userprops/userprops"
)

// TestWatch_Idle: a stream's heartbeats (comments, which no event shows)
// keep its connection; a stream silent for watchIdle is taken for dead,
// and the watch connects again, from the revision its stream announced.
func TestWatch_Idle(t *testing.T) {
	defer func(d time.Duration) { watchIdle = d }(watchIdle)
	watchIdle = 300 * time.Millisecond
	for _, c := range []struct {
		name      string
		heartbeat bool
		reconnect bool
	}{
		{"heartbeats", true, false},
		{"silence", false, true},
	} {
		var mu sync.Mutex
		var ids []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			ids = append(ids, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": hello\n\nid: 5\n\n")
			w.(http.Flusher).Flush()
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-tk.C:
					if c.heartbeat {
						io.WriteString(w, ": keepalive\n\n")
						w.(http.Flusher).Flush()
					}
				}
			}
		}))
		st, err := Open(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		// Three times watchIdle: a connection kept throughout, or
		// dropped at each watchIdle and connected again.
		ctx, cancel := context.WithTimeout(context.Background(), 3*watchIdle-50*time.Millisecond)
		for _, err := range st.Watch(ctx, "acc", userprops.FromNow) {
			if err != context.DeadlineExceeded {
				t.Errorf("%s: the watch ended with %v, want the context's end", c.name, err)
			}
		}
		cancel()
		st.Close()
		srv.Close()
		mu.Lock()
		if reconnected := len(ids) > 1; reconnected != c.reconnect {
			t.Errorf("%s: %d connections, want one only: %v", c.name, len(ids), !c.reconnect)
		}
		for i, id := range ids {
			if want := map[bool]string{true: "", false: "5"}[i == 0]; id != want {
				t.Errorf("%s: connection %d with Last-Event-ID %q, want %q", c.name, i+1, id, want)
			}
		}
		mu.Unlock()
	}
}
