package wal_test

import (
	"fmt"
	"log"
	"os"

	"github.com/userprops/userprops/internal/wal"
)

func ExampleLog() {
	dir, err := os.MkdirTemp("", "wal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := wal.Open(dir, wal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range []string{"first batch", "second batch", "third batch"} {
		if _, err := l.Append([]byte(rec)); err != nil { // durable when it returns
			log.Fatal(err)
		}
	}
	// The applier has put records 1 and 2 into bbolt.
	if err := l.Release(2); err != nil {
		log.Fatal(err)
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	// On open, replay what follows bbolt's index (2), skipping by index
	// whatever a crash may have brought back.
	l, err = wal.Open(dir, wal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	err = l.Read(2, func(index uint64, data []byte) error {
		fmt.Printf("%d %s\n", index, data)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("last", l.Last())
	// Output:
	// 3 third batch
	// last 3
}
