package userprops_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/userprops/userprops"
)

func Example() {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()

	status, err := store.Set(ctx, "5b10ac8d82e05b22cc7d4ef5", "settings", []byte(`{"theme":"dark"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status, status.HTTPStatus())

	status, err = store.Set(ctx, "5b10ac8d82e05b22cc7d4ef5", "settings", []byte(`{"theme":"light"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status, status.HTTPStatus())

	p, err := store.Get(ctx, "5b10ac8d82e05b22cc7d4ef5", "settings")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s version %d\n", p.Value, p.Version)

	_, err = store.Get(ctx, "5b10ac8d82e05b22cc7d4ef5", "missing")
	fmt.Println(errors.Is(err, userprops.ErrNotFound), userprops.HTTPStatus(err))
	// Output:
	// created 201
	// updated 200
	// {"theme":"light"} version 2
	// true 404
}

func ExampleOpenBolt() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "userprops-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "props.db")

	store, err := userprops.OpenBolt(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, key := range []string{"onboarding.done", "dashboard"} {
		if _, err := store.Set(ctx, "712020:2722a0b4", key, []byte(`true`)); err != nil {
			log.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}

	// The properties survive closing and reopening the file.
	store, err = userprops.OpenBolt(path)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	keys, err := store.Keys(ctx, "712020:2722a0b4")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(keys)
	// Output:
	// [dashboard onboarding.done]
}

func ExampleForActor() {
	ctx := context.Background()
	store := userprops.NewMemory()
	defer store.Close()

	alice := userprops.ForActor(store, userprops.Actor{AccountID: "alice"})
	admin := userprops.ForActor(store, userprops.Actor{AccountID: "root", Admin: true})
	anonymous := userprops.ForActor(store, userprops.Actor{})

	_, err := alice.Set(ctx, "alice", "theme", []byte(`"dark"`))
	fmt.Println("alice sets her own:", err)

	_, err = alice.Get(ctx, "bob", "theme")
	fmt.Println("alice reads bob's:", userprops.HTTPStatus(err), errors.Is(err, userprops.ErrForbidden))

	_, err = admin.Set(ctx, "bob", "theme", []byte(`"light"`))
	fmt.Println("an administrator sets bob's:", err)

	_, err = anonymous.Keys(ctx, "alice")
	fmt.Println("anonymous lists alice's:", userprops.HTTPStatus(err))
	// Output:
	// alice sets her own: <nil>
	// alice reads bob's: 403 true
	// an administrator sets bob's: <nil>
	// anonymous lists alice's: 401
}

func ExampleValidateValue() {
	for _, v := range []string{
		`{"a":1}`,
		` "just a string" `,
		`  `,
		`{"a":1}{"b":2}`,
		strings.Repeat(" ", userprops.MaxValueBytes+1),
	} {
		err := userprops.ValidateValue([]byte(v))
		fmt.Println(userprops.HTTPStatus(err), err)
	}
	// Output:
	// 200 <nil>
	// 200 <nil>
	// 400 userprops: property value is empty
	// 400 userprops: property value is not valid JSON: invalid character '{' after top-level value at byte 7
	// 400 userprops: property value is too large: it is 32769 bytes long, the maximum is 32768
}

func ExampleValidateKey() {
	for _, key := range []string{
		"dashboard.layout",
		strings.Repeat("😀", 127), // 254 UTF-16 code units
		strings.Repeat("😀", 128), // 256
		" ",
	} {
		fmt.Println(userprops.ValidateKey(key))
	}
	// Output:
	// <nil>
	// <nil>
	// userprops: property key is too long: it is 256 characters long, the maximum is 255
	// userprops: invalid property key: " " is blank
}

func ExampleWithDirectory() {
	ctx := context.Background()
	known := map[string]bool{"alice": true}
	store := userprops.NewMemory(userprops.WithDirectory(userprops.DirectoryFunc(
		func(_ context.Context, accountID string) (bool, error) { return known[accountID], nil },
	)))
	defer store.Close()

	_, err := store.Keys(ctx, "mallory")
	fmt.Println(err, userprops.HTTPStatus(err))
	// Output:
	// userprops: user not found: "mallory" 404
}

func ExampleWithAccountLimits() {
	ctx := context.Background()
	store := userprops.NewMemory(userprops.WithAccountLimits(2, 1024))
	defer store.Close()

	for _, key := range []string{"theme", "language", "timezone"} {
		_, err := store.Set(ctx, "5b10ac8d82e05b22cc7d4ef5", key, []byte(`"x"`))
		fmt.Println(key, errors.Is(err, userprops.ErrAccountFull), userprops.HTTPStatus(err))
	}
	fmt.Println(store.Delete(ctx, "5b10ac8d82e05b22cc7d4ef5", "theme"))
	_, err := store.Set(ctx, "5b10ac8d82e05b22cc7d4ef5", "timezone", []byte(`"x"`))
	fmt.Println(err)
	_, err = store.Set(ctx, "5b10ac8d82e05b22cc7d4ef5", "language", []byte(`"`+strings.Repeat("x", 1100)+`"`))
	fmt.Println(err)
	// Output:
	// theme false 200
	// language false 200
	// timezone true 400
	// <nil>
	// <nil>
	// userprops: account has reached its limit: account "5b10ac8d82e05b22cc7d4ef5" would hold 1121 bytes of keys and values, more than the limit of 1024
}

func ExampleParseQuery() {
	ctx := context.Background()
	// An index on the path the query reads: the same answers, faster.
	store := userprops.NewMemory(userprops.WithIndex("location", "office.city"))
	defer store.Close()
	for id, location := range map[string]string{
		"5b10ac8d82e05b22cc7d4ef5": `{"office":{"country":"AU","city":"Sydney"}}`,
		"5b10a2844c20165700ede21g": `{"office":{"country":"NO","city":"Oslo"}}`,
		"5b109f2e9729b51b54dc274d": `{"office":{"country":"AU","city":["Sydney","Melbourne"]}}`,
	} {
		if _, err := store.Set(ctx, id, "location", []byte(location)); err != nil {
			log.Fatal(err)
		}
	}

	q, err := userprops.ParseQuery(`[location].office.city is "Sydney"`)
	if err != nil {
		log.Fatal(err)
	}
	found, err := store.Find(ctx, q, userprops.Page{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found.Total, found.AccountIDs)

	_, err = userprops.ParseQuery(`[location].office.city is Sydney`)
	fmt.Println(err)
	// Output:
	// 2 [5b109f2e9729b51b54dc274d 5b10ac8d82e05b22cc7d4ef5]
	// userprops: invalid query: at byte 26: expected a value (a quoted string, a number, true or false), found "Sydney"
}

func ExampleWhere() {
	q := userprops.And(
		userprops.Where("onboarding", "done", false),
		userprops.Or(userprops.Where("team", "", "core"), userprops.Where("team", "", "infra")),
	)
	fmt.Println(q)
	// Output:
	// [onboarding].done is false AND ([team] is "core" OR [team] is "infra")
}
