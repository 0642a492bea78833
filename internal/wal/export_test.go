package wal

// SetFault makes the log call fault before each file operation named op:
// "write" and "sync" of a record, "direct" (the direct write of a record:
// its error is the write's), "cutwrite" and "cutsync" of the cut back
// after a failed record, "segsync" (the header of a new segment) and
// "dirsync" (the directory after its rename into place). A non-nil error is
// returned in place of the operation (a "write" fault first writes half of
// the record).
func SetFault(l *Log, fault func(op string) error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.fault = fault
}

// Datasync is the log's fdatasync (a full fsync where there is none), for
// the raw baseline of the benchmarks.
var Datasync = datasync

// Direct reports whether l writes records with direct I/O.
func Direct(l *Log) bool {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return l.direct != nil
}
