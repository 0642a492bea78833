package main

import (
	"fmt"
	"testing"

	"github.com/userprops/userprops"
)

func TestCompare(t *testing.T) {
	empty, one := []string{}, []string{"a"}
	var value any = map[string]any{"n": 1.5}
	var other any = map[string]any{"n": 2.0}
	notFound := fmt.Errorf("remote: %w", userprops.ErrNotFound)
	const msg = "The property k does not exist."
	base := []Entry{
		{Step: "set", Status: 201},
		{Step: "get", Status: 200, Value: &value},
		{Step: "keys", Status: 200, Keys: &empty},
		{Step: "missing", Status: 404, Message: msg},
	}
	same := []Entry{base[0], base[1], base[2], {Step: "missing", Status: 404, Message: msg, err: notFound}}
	if d := Compare(base, same); len(d) != 0 {
		t.Fatalf("the same answers differ: %q", d)
	}
	for name, change := range map[string]func([]Entry) []Entry{
		"status":         func(e []Entry) []Entry { e[0].Status = 200; return e },
		"value":          func(e []Entry) []Entry { e[1].Value = &other; return e },
		"no value":       func(e []Entry) []Entry { e[1].Value = nil; return e },
		"keys":           func(e []Entry) []Entry { e[2].Keys = &one; return e },
		"no keys":        func(e []Entry) []Entry { e[2].Keys = nil; return e },
		"message":        func(e []Entry) []Entry { e[3].Message = "The property j does not exist."; return e },
		"another error":  func(e []Entry) []Entry { e[3].err = userprops.ErrUserNotFound; return e },
		"a step's name":  func(e []Entry) []Entry { e[0].Step = "put"; return e },
		"a missing step": func(e []Entry) []Entry { return e[:3] },
	} {
		got := append([]Entry(nil), same...)
		got = change(got)
		if d := Compare(base, got); len(d) == 0 {
			t.Errorf("%s: a different answer compares equal", name)
		}
	}
}
