package userprops

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"sync/atomic"

	"github.com/google/btree"
	bolt "go.etcd.io/bbolt"
)

// How the store reads and writes its buckets: through kvBucket and
// kvWriter, which are either a bbolt bucket itself or, with the write-ahead
// log (bolt_log.go), a bbolt bucket seen through the overlay: the changes
// acknowledged but not yet in the file, in layers newest first, each a
// sorted tree of entries that set or delete one key of one bucket.

// kvBucket is a bucket as the store reads it. A returned slice is valid
// until the read ends and must not be modified.
type kvBucket interface {
	Get(k []byte) []byte
	Cursor() kvCursor
}

// kvCursor walks a bucket in key order, as a bbolt cursor does; a nil key
// is the end.
type kvCursor interface {
	First() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
	Next() (k, v []byte)
}

// kvWriter is a bucket as the committer writes it. Put keeps k and v until
// the change is written: the caller must not modify them afterwards.
type kvWriter interface {
	kvBucket
	Put(k, v []byte) error
	Delete(k []byte) error
}

// rawBucket is a bbolt bucket as a kvWriter.
type rawBucket struct{ *bolt.Bucket }

func (b rawBucket) Cursor() kvCursor { return b.Bucket.Cursor() }

// bucketTag returns the tag of the bucket at path (top-level name first)
// in the overlay and the log: each name with its length in front (names
// are 1 to 255 bytes), and a 0 after the last, so that no tag is the prefix
// of another and a tag's entries are one range of the overlay.
func bucketTag(path ...[]byte) []byte {
	var tag []byte
	for _, name := range path {
		tag = append(append(tag, byte(len(name))), name...)
	}
	return append(tag, 0)
}

// splitTag returns the bucket path a tag names; ok is false for bytes that
// are not a tag.
func splitTag(tag []byte) (path [][]byte, ok bool) {
	for len(tag) > 1 {
		n := int(tag[0])
		if n == 0 || n+1 > len(tag)-1 {
			return nil, false
		}
		path, tag = append(path, tag[1:n+1]), tag[n+1:]
	}
	return path, len(tag) == 1 && tag[0] == 0 && len(path) > 0
}

var (
	tagMeta    = bucketTag(boltMetaBucket)
	tagProps   = bucketTag(boltPropsBucket)
	tagUsage   = bucketTag(boltUsageBucket)
	tagHistory = bucketTag(boltHistoryBucket)
)

// termsTag returns the tag of the entries bucket of the index with id id.
func termsTag(id []byte) []byte { return bucketTag(boltTermsBucket, id) }

// ovEntry is one change in the overlay: key is the bucket's tag followed by
// the key in the bucket; del marks a delete. The slices are never modified.
type ovEntry struct {
	key, val []byte
	del      bool
}

func ovLess(a, b *ovEntry) bool { return bytes.Compare(a.key, b.key) < 0 }

// ovTree is one layer of the overlay.
type ovTree = btree.BTreeG[*ovEntry]

// ovDegree is the B-tree degree of the overlay's layers.
const ovDegree = 16

func newOvTree() *ovTree { return btree.NewG(ovDegree, ovLess) }

// ovLayer is one layer of the overlay as readers see it: its tree, and a
// filter that holds every key of the tree (nil: search the tree always).
type ovLayer struct {
	tree *ovTree
	keys *ovFilter
}

// ovFilter is a Bloom filter over the keys of the active layer and the
// versions of it that follow, up to the freeze that ends them (then of the
// frozen layer): a key the layer holds always tests present. Bits are only
// ever set (by the committer, before it shows the version that holds the
// key), so a reader of an older version sees more bits than its version
// needs: at worst a key it lacks tests present, and is searched for.
//
// Most reads of a large overlay are of keys it lacks (a store holds many
// more properties than a second's writes): the filter answers those
// without a search of the tree. At 2^21 bits and two probes, 200,000 keys
// (more than 16 MiB of entries) test falsely present about 3% of the time.
type ovFilter struct {
	bits [ovFilterBits / 64]atomic.Uint64
}

const ovFilterBits = 1 << 21

var ovFilterSeed = maphash.MakeSeed()

// ovHash returns the hash of an overlay key that the filters probe.
func ovHash(key []byte) uint64 { return maphash.Bytes(ovFilterSeed, key) }

func (f *ovFilter) add(h uint64) {
	for _, i := range [2]uint64{h % ovFilterBits, (h >> 32) % ovFilterBits} {
		f.bits[i/64].Or(1 << (i % 64))
	}
}

// mayHold reports whether the key of hash h may be in the layer; false
// means it is not.
func (f *ovFilter) mayHold(h uint64) bool {
	for _, i := range [2]uint64{h % ovFilterBits, (h >> 32) % ovFilterBits} {
		if f.bits[i/64].Load()&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// kvRead is one read of the store: a bbolt read transaction and the overlay
// layers to see it through (none without the log, or with nothing pending).
type kvRead struct {
	tx     *bolt.Tx
	layers []ovLayer // newest first
}

// bucket returns the bucket with tag tag and bbolt bucket b as r sees it;
// nil if the file has no such bucket. (Only the committer's administrative
// writes, which the log never holds, create and remove buckets.)
func (r *kvRead) bucket(tag []byte, b *bolt.Bucket) kvBucket {
	if b == nil {
		return nil
	}
	if len(r.layers) == 0 {
		return rawBucket{b}
	}
	return &mergedBucket{tag: tag, layers: r.layers, base: b}
}

func (r *kvRead) meta() kvBucket    { return r.bucket(tagMeta, r.tx.Bucket(boltMetaBucket)) }
func (r *kvRead) props() kvBucket   { return r.bucket(tagProps, r.tx.Bucket(boltPropsBucket)) }
func (r *kvRead) history() kvBucket { return r.bucket(tagHistory, r.tx.Bucket(boltHistoryBucket)) }

// terms returns the entries bucket of the index with id id, nil if the file
// has none.
func (r *kvRead) terms(id []byte) kvBucket {
	t := r.tx.Bucket(boltTermsBucket)
	if t == nil {
		return nil
	}
	return r.bucket(termsTag(id), t.Bucket(id))
}

// mergedBucket is a bbolt bucket seen through overlay layers: an entry of a
// newer layer hides those of older ones and the file's.
type mergedBucket struct {
	tag    []byte
	layers []ovLayer
	base   *bolt.Bucket
	probe  ovEntry // the entry searched for, its key reused (full)
}

// full returns the entry to search the layers for k in b with, reused by
// the next call.
func (b *mergedBucket) full(k []byte) *ovEntry {
	b.probe.key = append(append(b.probe.key[:0], b.tag...), k...)
	return &b.probe
}

func (b *mergedBucket) Get(k []byte) []byte {
	probe := b.full(k)
	var h uint64
	hashed := false
	for _, l := range b.layers {
		if l.keys != nil {
			if !hashed {
				h, hashed = ovHash(probe.key), true
			}
			if !l.keys.mayHold(h) {
				continue
			}
		}
		if e, ok := l.tree.Get(probe); ok {
			if e.del {
				return nil
			}
			return e.val
		}
	}
	return b.base.Get(k)
}

func (b *mergedBucket) Cursor() kvCursor {
	return &mergedCursor{b: b, base: b.base.Cursor()}
}

// next returns the first entry of the layers at or after from (after it,
// if !inclusive) within b's bucket, from the newest layer that has that
// key; ok is false if there is none. k is the entry's key in the bucket.
func (b *mergedBucket) next(from []byte, inclusive bool) (k []byte, e *ovEntry, ok bool) {
	probe := b.full(from)
	for _, l := range b.layers {
		l.tree.AscendGreaterOrEqual(probe, func(got *ovEntry) bool {
			if !bytes.HasPrefix(got.key, b.tag) {
				return false
			}
			gk := got.key[len(b.tag):]
			if !inclusive && bytes.Equal(gk, from) {
				return true // the next one
			}
			if !ok || bytes.Compare(gk, k) < 0 {
				k, e, ok = gk, got, true
			}
			return false
		})
	}
	return k, e, ok
}

// mergedCursor walks a mergedBucket: the file's cursor and the layers,
// merged in key order. Each step searches the layers afresh, so it stays
// right when the committer changes a layer between steps.
type mergedCursor struct {
	b      *mergedBucket
	base   *bolt.Cursor
	bk, bv []byte // the file cursor's position; bk nil at its end
	at     []byte // the key returned last; nil at the end
}

func (c *mergedCursor) First() ([]byte, []byte) {
	c.bk, c.bv = c.base.First()
	return c.settle(nil, true)
}

func (c *mergedCursor) Seek(seek []byte) ([]byte, []byte) {
	c.bk, c.bv = c.base.Seek(seek)
	return c.settle(seek, true)
}

func (c *mergedCursor) Next() ([]byte, []byte) {
	if c.at == nil {
		return nil, nil
	}
	if c.bk != nil && bytes.Equal(c.bk, c.at) {
		c.bk, c.bv = c.base.Next()
	}
	return c.settle(c.at, false)
}

// settle moves to the first live key at or after from (after it, if
// !inclusive): the smaller of the file's and the layers' next keys, the
// layers' entry winning a tie; deleted keys are passed over.
func (c *mergedCursor) settle(from []byte, inclusive bool) ([]byte, []byte) {
	for {
		k, e, ok := c.b.next(from, inclusive)
		if !ok || (c.bk != nil && bytes.Compare(c.bk, k) < 0) {
			c.at = c.bk
			return c.bk, c.bv
		}
		if c.bk != nil && bytes.Equal(c.bk, k) {
			// The entry hides the file's record: the file's cursor
			// moves past it now, so that a Next never returns it.
			c.bk, c.bv = c.base.Next()
		}
		if !e.del {
			c.at = k
			return k, e.val
		}
		from, inclusive = k, false
	}
}

// groupBucket is a bucket as the committer writes it with the log: it
// reads through the overlay and the group's own changes, and writes into
// the group (the newest layer), which the log then holds.
type groupBucket struct {
	mergedBucket
	group *ovTree
}

func (b *groupBucket) Put(k, v []byte) error {
	if v == nil {
		v = []byte{} // an empty value, as bbolt keeps it: not a delete
	}
	b.group.ReplaceOrInsert(&ovEntry{key: b.entryKey(k), val: v})
	return nil
}

func (b *groupBucket) Delete(k []byte) error {
	b.group.ReplaceOrInsert(&ovEntry{key: b.entryKey(k), del: true})
	return nil
}

// entryKey returns a new overlay key of k in b.
func (b *groupBucket) entryKey(k []byte) []byte {
	return append(append(make([]byte, 0, len(b.tag)+len(k)), b.tag...), k...)
}

// writer returns the bucket with tag tag and bbolt bucket base as the
// committer writes it: the bbolt bucket itself without a group, the group
// on top of the layers with one. nil if the file has no such bucket.
func (r *kvRead) writer(tag []byte, base *bolt.Bucket, group *ovTree) kvWriter {
	switch {
	case base == nil:
		return nil
	case group == nil:
		return rawBucket{base}
	}
	return &groupBucket{mergedBucket: mergedBucket{tag: tag, layers: r.layers, base: base}, group: group}
}

// resolveTag returns the bbolt bucket of tx that tag names.
func resolveTag(tx *bolt.Tx, tag []byte) (*bolt.Bucket, error) {
	path, ok := splitTag(tag)
	if !ok {
		return nil, fmt.Errorf("bucket tag %x does not decode", tag)
	}
	b := tx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			break
		}
		b = b.Bucket(name)
	}
	if b == nil {
		return nil, fmt.Errorf("no bucket %q", path)
	}
	return b, nil
}
