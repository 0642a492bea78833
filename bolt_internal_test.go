package userprops

import (
	"bytes"
	"testing"
)

// FuzzBoltKey checks the composite key layout that account isolation rests
// on: two different (account, key) pairs never share a composite key, and an
// account's prefix starts exactly the composite keys of that account.
func FuzzBoltKey(f *testing.F) {
	f.Add("a", "b:c", "a:b", "c")
	f.Add("a", "bc", "ab", "c")
	f.Add("a\x00", "b", "a", "\x00b")
	f.Add("\x01a", "", "a", "\x01a")
	f.Add(string(make([]byte, 200)), "k", string(make([]byte, 128)), "k")
	f.Fuzz(func(t *testing.T, a1, k1, a2, k2 string) {
		c1, c2 := boltKey(nil, a1, k1), boltKey(nil, a2, k2)
		if (a1 == a2 && k1 == k2) != bytes.Equal(c1, c2) {
			t.Fatalf("boltKey(%q, %q) = %q and boltKey(%q, %q) = %q", a1, k1, c1, a2, k2, c2)
		}
		if p2 := boltKey(nil, a2, ""); bytes.HasPrefix(c1, p2) != (a1 == a2) {
			t.Fatalf("prefix of account %q is %q; composite key of (%q, %q) is %q", a2, p2, a1, k1, c1)
		}
	})
}
