package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/userprops/userprops"
)

// BackupPath is the route of the backup of a live server, outside Jira's
// namespace: GET BackupPath streams a consistent copy of the store.
const BackupPath = "/userprops/1/backup"

// Backuper is a store that can write a consistent copy of itself while in
// use, as userprops.BoltStore does: the copy is the store as of one moment,
// and it opens as a store of the same kind. The handler offers BackupPath
// for a store that implements it; other stores (pgstore: use pg_dump)
// answer 501.
type Backuper interface {
	// Backup writes the copy to w and returns the number of bytes written.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

var _ Backuper = (*userprops.BoltStore)(nil)

// Trailers of a backup, which the client checks against what it received:
// a copy cut short or altered on the way does not match them.
const (
	BackupBytesTrailer  = "Userprops-Backup-Bytes"
	BackupSHA256Trailer = "Userprops-Backup-Sha256"
)

// backupStallTimeout is how long a backup waits for the client to take
// more of it before giving up. Each write that makes progress extends the
// connection's write deadline by as much, so that a large backup is not cut
// off by the server's write timeout, and a client that stops reading does not
// hold the store's read transaction open for long.
const backupStallTimeout = time.Minute

// backup answers GET BackupPath: for an administrator, 200 with the copy
// (application/octet-stream) and, in trailers, its length and SHA-256; 401
// without valid credentials, 403 for anyone else, 405 for other methods, 501
// when the store cannot be backed up this way. A failure once the copy has
// begun aborts the response (the client sees the body cut short, and no
// trailers), so that a partial copy is never taken for a whole one.
func (s *server) backup(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.routeActor(w, r, http.MethodGet)
	if !ok {
		return
	}
	if !actor.Admin {
		writeError(w, http.StatusForbidden, "Only administrators may back up the store.")
		return
	}
	b, ok := s.rawStore.(Backuper)
	if !ok {
		writeError(w, http.StatusNotImplemented, "This store cannot be backed up over HTTP: back it up with its database's own tools (pg_dump for PostgreSQL).")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="userprops-backup.db"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Trailer", BackupBytesTrailer+", "+BackupSHA256Trailer)
	out := &backupWriter{w: w, rc: http.NewResponseController(w), sum: sha256.New()}
	n, err := b.Backup(r.Context(), out)
	if err != nil {
		if !out.started {
			for _, k := range []string{"Content-Disposition", "Trailer"} {
				h.Del(k)
			}
			s.fail(w, r, err, "")
			return
		}
		if r.Context().Err() == nil {
			s.log.ErrorContext(r.Context(), "backup failed", "bytes", n, "err", err)
		}
		panic(http.ErrAbortHandler) // no terminating chunk: the client sees a cut body
	}
	h.Set(BackupBytesTrailer, strconv.FormatInt(n, 10))
	h.Set(BackupSHA256Trailer, hex.EncodeToString(out.sum.Sum(nil)))
}

// backupWriter writes a backup to the response, hashing it, with a write
// deadline backupStallTimeout after each write.
type backupWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	sum     hash.Hash
	started bool
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.started = true
		// Not every ResponseWriter has deadlines (httptest's recorder);
		// then the server's own timeouts apply.
		_ = b.rc.SetWriteDeadline(time.Now().Add(backupStallTimeout))
	}
	n, err := b.w.Write(p)
	b.sum.Write(p[:n])
	if n > 0 {
		_ = b.rc.SetWriteDeadline(time.Now().Add(backupStallTimeout))
	}
	return n, err
}
