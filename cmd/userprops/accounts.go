package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/userprops/userprops/httpapi"
)

// The accounts commands change the accounts file that serve reads, with
// httpapi.UpdateAccountsFile: the same checks as serve makes (a file others
// could have written is refused), mode 0600, written atomically, one change
// at a time. A running serve reads the new file on SIGHUP. API tokens are
// printed by add and rotate, once; list never prints them.

// accountFlags are the flags of the accounts commands.
type accountFlags struct {
	fs                       *flag.FlagSet
	path, email, id, display string
	admin                    bool
}

// newAccountFlags returns the flags of "accounts name": --accounts, and the
// ones that pick or describe an account when pick is set.
func newAccountFlags(name, args string, pick bool, stderr io.Writer) *accountFlags {
	f := &accountFlags{fs: flag.NewFlagSet("accounts "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.path, "accounts", "", "accounts `file` (required)")
	if pick {
		f.fs.StringVar(&f.id, "account-id", "", "the account's `ID`")
		f.fs.StringVar(&f.email, "email", "", "the account's `email`")
	}
	f.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: userprops accounts "+name+" "+args)
		f.fs.PrintDefaults()
	}
	return f
}

// parse parses args: --accounts is required and no argument may follow the
// flags.
func (f *accountFlags) parse(args []string) error {
	if err := parseFlags(f.fs, args); err != nil {
		return err
	}
	if f.path == "" {
		return usageError{"--accounts is required"}
	}
	if f.fs.NArg() != 0 {
		return usageError{fmt.Sprintf("%s takes no arguments after its flags, got %q", f.fs.Name(), f.fs.Args())}
	}
	return nil
}

// picked parses args of a command on one existing account, named by exactly
// one of --account-id and --email.
func (f *accountFlags) picked(args []string) error {
	if err := f.parse(args); err != nil {
		return err
	}
	if (f.id == "") == (f.email == "") {
		return usageError{"give --account-id or --email (one of them)"}
	}
	return nil
}

// matches reports whether acc is the account the flags name: by account ID
// exactly, or by email as logins match it, ignoring case.
func (f *accountFlags) matches(acc httpapi.Account) bool {
	if f.id != "" {
		return acc.AccountID == f.id
	}
	return strings.EqualFold(acc.Email, f.email)
}

// who is how messages name the account the flags pick.
func (f *accountFlags) who() string {
	if f.id != "" {
		return fmt.Sprintf("account ID %q", f.id)
	}
	return fmt.Sprintf("email %q", f.email)
}

// reloadHint tells how a running server learns of a change.
const reloadHint = "a running userprops serve reads the change on SIGHUP (kill -HUP PID)"

// accountsAdd adds an account with a new API token and prints
// {"accountId":ID,"email":E,"apiToken":T}: the token is shown this once.
// Without --account-id the account gets a random ID of 24 hex digits, the
// form of Jira Cloud's.
func accountsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAccountFlags("add", "--accounts FILE --email E [--account-id ID] [--display-name N] [--admin]", true, stderr)
	f.fs.StringVar(&f.display, "display-name", "", "the account's display `name`")
	f.fs.BoolVar(&f.admin, "admin", false, "make the account an administrator (may act on every account)")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.email == "" {
		return usageError{"--email is required"}
	}
	acc := httpapi.Account{AccountID: f.id, Email: f.email, APIToken: httpapi.NewToken(), Admin: f.admin, DisplayName: f.display}
	if acc.AccountID == "" {
		acc.AccountID = newAccountID()
	}
	err := httpapi.UpdateAccountsFile(f.path, func(list []httpapi.Account) ([]httpapi.Account, error) {
		return append(list, acc), nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "added account %q to %s; its API token is printed once, keep it now; %s\n", acc.AccountID, f.path, reloadHint)
	return printJSON(stdout, tokenLine{acc.AccountID, acc.Email, acc.APIToken})
}

// tokenLine is what add and rotate print.
type tokenLine struct {
	AccountID string `json:"accountId"`
	Email     string `json:"email,omitempty"`
	APIToken  string `json:"apiToken"`
}

// newAccountID returns 24 random hex digits, like 5b10ac8d82e05b22cc7d4ef5.
func newAccountID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// accountsList prints the accounts of the file, without their tokens:
// {"accounts":[{"accountId":ID,"email":E,"displayName":N,"admin":true},…]}
// in the order of the file.
func accountsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAccountFlags("list", "--accounts FILE", false, stderr)
	if err := f.parse(args); err != nil {
		return err
	}
	list, err := httpapi.ReadAccountsFile(f.path)
	if err != nil {
		return err
	}
	type listed struct {
		AccountID   string `json:"accountId"`
		Email       string `json:"email,omitempty"`
		DisplayName string `json:"displayName,omitempty"`
		Admin       bool   `json:"admin"`
	}
	out := struct {
		Accounts []listed `json:"accounts"`
	}{Accounts: make([]listed, 0, len(list))}
	for _, a := range list {
		out.Accounts = append(out.Accounts, listed{a.AccountID, a.Email, a.DisplayName, a.Admin})
	}
	return printJSON(stdout, out)
}

// accountsRemove removes one account and prints {"removed":ID}. Removing the
// last account is refused: serve refuses a file that lists none.
func accountsRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAccountFlags("remove", "--accounts FILE (--account-id ID | --email E)", true, stderr)
	if err := f.picked(args); err != nil {
		return err
	}
	var removed string
	err := f.change(func(list []httpapi.Account, i int) []httpapi.Account {
		removed = list[i].AccountID
		return append(list[:i], list[i+1:]...)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "removed account %q from %s; %s\n", removed, f.path, reloadHint)
	return printJSON(stdout, struct {
		Removed string `json:"removed"`
	}{removed})
}

// accountsRotate gives one account a new API token, which replaces the old
// one, and prints {"accountId":ID,"email":E,"apiToken":T}: the new token is
// shown this once.
func accountsRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAccountFlags("rotate", "--accounts FILE (--account-id ID | --email E)", true, stderr)
	if err := f.picked(args); err != nil {
		return err
	}
	var acc httpapi.Account
	err := f.change(func(list []httpapi.Account, i int) []httpapi.Account {
		list[i].APIToken = httpapi.NewToken()
		acc = list[i]
		return list
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "new API token for account %q in %s, printed once; the old one stops working when a server reads the file: %s\n", acc.AccountID, f.path, reloadHint)
	return printJSON(stdout, tokenLine{acc.AccountID, acc.Email, acc.APIToken})
}

// change applies fn to the account the flags pick (at index i of the
// file's list) and writes the list fn returns.
func (f *accountFlags) change(fn func(list []httpapi.Account, i int) []httpapi.Account) error {
	return httpapi.UpdateAccountsFile(f.path, func(list []httpapi.Account) ([]httpapi.Account, error) {
		for i, a := range list {
			if f.matches(a) {
				return fn(list, i), nil
			}
		}
		return nil, fmt.Errorf("%s lists no account with %s", f.path, f.who())
	})
}
