package userprops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Operations on a whole bolt store: verification, copies, export and restore.

// Check reads the whole file and verifies it: every property key decodes
// and every record passes its checksum, every account's usage record passes
// its checksum and agrees with the account's properties, every index entry
// names a property whose value has its term and every property has the
// entries of its terms in each index on its key (in an index being built,
// the properties it has reached), the change history agrees with the
// revisions and the properties (see checkHistory), then bbolt's own
// consistency check (every page reachable or free, and none twice). It
// returns nil, or an error wrapping ErrCorrupt that lists the first problems
// found; finding damage also marks the store damaged (see ErrCorrupt). With
// the write-ahead log it checks the log too (see checkLog). It runs in one
// read transaction, alongside other calls, and reads every page of the
// file; commits to the file wait for it to end (so writes do without the
// log, and with it only the applier behind the log).
func (s *BoltStore) Check(ctx context.Context) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	defer s.longRead()()
	const maxProblems = 10
	var problems []string
	// bbolt's check compares the pages of the transaction with the free
	// list of the latest commit: no commit may come between.
	s.freelist.Lock()
	defer s.freelist.Unlock()
	// Read before the transaction begins: the log is released only up to
	// what a commit before it put in the file.
	var logFirst uint64
	if s.walState != nil {
		logFirst = s.walState.log.First()
	}
	err := s.view("check", func(tx *bolt.Tx) error {
		// The records first: this walk runs in this goroutine, where a
		// fault is contained, and reaches every page bbolt's check will.
		c := tx.Bucket(boltPropsBucket).Cursor()
		n := 0
		k, v := c.First()
		for ; k != nil && len(problems) < maxProblems; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if _, _, ok := decodeKey(k); !ok {
				problems = append(problems, fmt.Sprintf("key %q does not decode", k))
				continue
			}
			if err := checkRecord(k, v); err != nil {
				problems = append(problems, fmt.Sprintf("key %q: %v", k, err))
			}
		}
		if k != nil {
			// The walk stopped early with enough to report; bbolt's check
			// would read pages this goroutine has not proved readable.
			return nil
		}
		found, err := checkUsage(ctx, tx, maxProblems-len(problems))
		if err != nil {
			return err
		}
		problems = append(problems, found...)
		if found, err = s.checkIndexes(ctx, tx, maxProblems-len(problems)); err != nil {
			return err
		}
		problems = append(problems, found...)
		if found, err = s.checkHistory(ctx, tx, maxProblems-len(problems)); err != nil {
			return err
		}
		problems = append(problems, found...)
		problems = append(problems, s.checkLog(tx, logFirst)...)
		for err := range tx.Check() {
			if len(problems) < maxProblems {
				problems = append(problems, err.Error())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return s.gate.MarkDamaged(fmt.Errorf("%w: %s: %s", ErrCorrupt, s.path, strings.Join(problems, "; ")))
	}
	return nil
}

// Backup writes a consistent copy of the store file to w while the store
// stays in use: it is the file as of one moment, taken in a read
// transaction after every write acknowledged before Backup was called is in
// the file (with the write-ahead log, Backup first has what the log holds
// written into the file), so writes committed during the copy are not in
// it. To put the copy in the store's place, remove the store's log
// directory (path + ".wal") with its file: the copy holds what it held
// (OpenBolt refuses a file older than the log beside it). However
// slow w is, writes and reads go on beside it while the file stays within
// its memory map (WithMmapSize); past that, a commit that must replace the
// map waits for the copy to end. The copy opens with OpenBolt. Backup
// returns the number of bytes written.
func (s *BoltStore) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	if err := s.gate.Ready(ctx); err != nil {
		return 0, err
	}
	if err := s.flushLog(ctx); err != nil {
		return 0, err
	}
	defer s.longRead()()
	err = s.view("backup", func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Restore writes props in one transaction and returns once it is synced,
// each property exactly as given (Value, Version and UpdatedAt; its Revision
// is ignored: each property written is a change, with a new revision, in
// the order of props), replacing
// whatever is stored under the same account and key. Every property is first
// checked with the rules of Set, and its Version must be from 1 to
// MaxVersion; if one
// fails, nothing is written and the error names it. Restore is an
// administrative operation: it does not consult the Directory, and the
// account limits (WithAccountLimits) do not apply to it, so that a backup
// restores whole whatever the limits; the properties it writes count
// towards them, and an account it leaves above a limit can only shrink. It goes
// through the committer, in order with Sets and Deletes, and like them is
// withdrawn if ctx ends before the committer takes it. A batch is held in
// memory until it commits; restore large sets in batches of some thousands.
func (s *BoltStore) Restore(ctx context.Context, props []Property) error {
	w := &boltWrite{kind: writeRestore, restore: make([]boltEntry, len(props))}
	for i, p := range props {
		if err := ValidateRestorable(p); err != nil {
			return fmt.Errorf("property %d (account %s, key %s): %w", i+1, abbrev(p.AccountID), abbrev(p.Key), err)
		}
		rec, valueCRC := newRecord(p.Value)
		w.restore[i] = boltEntry{key: boltKey(nil, p.AccountID, p.Key), record: rec, valueCRC: valueCRC,
			version: p.Version, updatedAt: p.UpdatedAt.UnixNano()}
	}
	if err := s.write(ctx, w); err != nil {
		return err
	}
	return w.err
}

// CompactTo writes a compacted copy of the store to a new file at path (mode
// 0600; it must not exist): bbolt files never shrink, and the copy holds only
// live pages. It reads a consistent snapshot while other calls go on, and
// checks the copy before returning. The copy opens with OpenBolt.
func (s *BoltStore) CompactTo(ctx context.Context, path string) error {
	if err := s.gate.Ready(ctx); err != nil {
		return err
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("userprops: compacting into %s: the file exists", path)
	}
	if err := s.flushLog(ctx); err != nil {
		return err
	}
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltLockPoll, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("userprops: creating %s: %w", path, err)
	}
	done := s.longRead()
	err = s.contain("compact", func() error { return bolt.Compact(dst, s.db, 16<<20) })
	done()
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("userprops: compacting %s into %s: %w", s.path, path, err)
	}
	copied, err := OpenBolt(path)
	if err != nil {
		return err
	}
	defer copied.Close()
	return copied.Check(ctx)
}

// flushLog has the committer write everything the write-ahead log holds
// into the file, for the calls that read the file itself (Backup,
// CompactTo); without the log it returns at once.
func (s *BoltStore) flushLog(ctx context.Context) error {
	if s.walState == nil {
		return nil
	}
	w := &boltWrite{kind: writeFlush}
	if err := s.write(ctx, w); err != nil {
		return err
	}
	return w.err
}
