package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// LogRequests returns middleware that logs every request at Info level when
// it ends: method, path (never the query or any header, so no credential is
// logged), status, response size, duration and client address (the peer's,
// or in the handler New returns, what a trusted proxy says; see
// WithTrustedProxies).
func LogRequests(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", rec.statusCode()),
					slog.Int("bytes", rec.bytes),
					slog.Duration("duration", time.Since(start)),
					slog.String("client", clientString(r)),
				)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// Recover returns middleware that turns a panic in a handler into a 500
// answer with Jira's error body, and logs it with its stack, so that one bad
// request never takes the server down. http.ErrAbortHandler is passed on, as
// net/http expects.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request",
					"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(w, http.StatusInternalServerError, "Internal server error.")
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// statusCode returns the status sent, 200 if the handler wrote nothing.
func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the underlying writer (for
// MaxBytesReader's connection handling and flushing).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// clientString returns the client address of r for the log: requestClient's,
// or the peer as net/http reports it when that is not an IP address.
func clientString(r *http.Request) string {
	if a := requestClient(r).addr; a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
