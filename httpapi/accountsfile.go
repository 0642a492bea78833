package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/internal/atomicfile"
)

// Account is one entry of an accounts file, a record of its JSON document:
// who may call the server, with which API token, and whether as an
// administrator (Jira's Administer Jira permission); and how the user
// resources and the user search describe it (see User). Fields that a file
// may leave out are omitempty, so that a file written by an older version
// reads the same, and a new field is one more line here.
type Account struct {
	AccountID string `json:"accountId"`
	Email     string `json:"email,omitempty"`
	APIToken  string `json:"apiToken"`
	Admin     bool   `json:"admin,omitempty"`
	// DisplayName is the name users see; "" shows the account ID.
	DisplayName string `json:"displayName,omitempty"`
	// Active is false for a deactivated account, which still
	// authenticates and keeps its properties but is found by no user
	// search; nil (absent from the file) means true.
	Active *bool `json:"active,omitempty"`
	// TimeZone is an IANA time zone name, shown as given; "" shows
	// DefaultTimeZone.
	TimeZone string `json:"timeZone,omitempty"`
	// Locale is a Java locale such as "en_US", shown as given; "" shows
	// DefaultLocale.
	Locale string `json:"locale,omitempty"`
}

// IsActive reports whether the account is active: Active is nil or true.
func (a Account) IsActive() bool { return a.Active == nil || *a.Active }

// accountsFile is the JSON document of an accounts file.
type accountsFile struct {
	Accounts []Account `json:"accounts"`
}

// AccountsFile is the accounts of an accounts file, read again by Reload so
// that accounts and tokens can be added or revoked without a restart. It is
// the Authenticator, the userprops.Directory and the Users of a server, like
// Accounts, and answers from the accounts loaded last; it is safe for
// concurrent use, Reload included. A request that runs while a reload swaps the accounts
// may be authenticated with the old ones and checked against the new
// directory (or the other way round); every request after Reload returns
// sees only the new accounts.
type AccountsFile struct {
	path     string
	log      *slog.Logger
	current  atomic.Pointer[Accounts]
	reloadMu sync.Mutex // one Reload at a time, so the last one started wins
}

var (
	_ Authenticator       = (*AccountsFile)(nil)
	_ userprops.Directory = (*AccountsFile)(nil)
	_ Users               = (*AccountsFile)(nil)
)

// OpenAccountsFile loads the accounts file at path with the rules and checks
// of LoadAccounts and returns it ready to serve. Warnings about the file
// (that others may read it) go to log as warnings, now and on every Reload;
// a nil log is slog.Default().
func OpenAccountsFile(path string, log *slog.Logger) (*AccountsFile, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &AccountsFile{path: path, log: log}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the path of the file, as given to OpenAccountsFile.
func (f *AccountsFile) Path() string { return f.path }

// Accounts returns the accounts loaded last.
func (f *AccountsFile) Accounts() *Accounts { return f.current.Load() }

// Reload reads the file again, with the rules and checks of LoadAccounts,
// and, if it is good, makes its accounts the ones in use in one atomic
// step. If it is not (missing, unsafe, not valid), Reload returns why and
// the accounts in use stay as they were.
func (f *AccountsFile) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	a, warnings, err := loadAccounts(f.path)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		f.log.Warn("accounts file: " + w)
	}
	f.current.Store(a)
	return nil
}

// Authenticate implements Authenticator with the accounts loaded last (see
// Accounts.Authenticate).
func (f *AccountsFile) Authenticate(r *http.Request) (userprops.Actor, error) {
	return f.current.Load().Authenticate(r)
}

// UserExists implements userprops.Directory with the accounts loaded last:
// the accounts listed exist.
func (f *AccountsFile) UserExists(ctx context.Context, accountID string) (bool, error) {
	return f.current.Load().UserExists(ctx, accountID)
}

// User implements Users with the accounts loaded last.
func (f *AccountsFile) User(ctx context.Context, accountID string) (User, error) {
	return f.current.Load().User(ctx, accountID)
}

// EachUser implements Users with the accounts loaded last: a Reload while
// it runs does not change the accounts it goes through.
func (f *AccountsFile) EachUser(ctx context.Context, fn func(User) bool) error {
	return f.current.Load().EachUser(ctx, fn)
}

// readAccountsFile reads the accounts of the file at path, after the checks
// of openAccountsFile, refusing unknown fields, anything after the document
// and a file that lists no accounts; the accounts themselves are not checked
// (NewAccounts does that). It returns the warnings about the file too.
func readAccountsFile(path string) ([]Account, []string, error) {
	file, warnings, err := openAccountsFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading accounts: %w", err)
	}
	data, err := io.ReadAll(file)
	file.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading accounts: %w", err)
	}
	var f accountsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("reading accounts from %s: %w", path, err)
	}
	// Only white space may follow the document: a second one (say, with
	// an administrator in it) must not be silently ignored.
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("reading accounts from %s: data after the accounts document", path)
	}
	if len(f.Accounts) == 0 {
		return nil, nil, fmt.Errorf("reading accounts from %s: the file lists no accounts", path)
	}
	return f.Accounts, warnings, nil
}

// encodeAccounts checks list with NewAccounts and returns the accounts file
// document holding it, one field a line.
func encodeAccounts(list []Account) ([]byte, error) {
	if _, err := NewAccounts(list); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(accountsFile{Accounts: list}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// ReadAccountsFile returns the accounts of the accounts file at path, in the
// order of the file, with the checks of LoadAccounts (the file, the
// directories above it, the document and every account). The slice and
// its tokens are the caller's.
func ReadAccountsFile(path string) ([]Account, error) {
	a, _, err := loadAccounts(path)
	if err != nil {
		return nil, err
	}
	return slices.Clone(a.list), nil
}

// UpdateAccountsFile changes the accounts file at path: it reads it with the
// checks of LoadAccounts (a missing file, in safe directories, reads as no
// accounts and is created), calls change with its accounts, and writes the
// accounts change returns in its place. It writes nothing if change returns
// an error (which it returns unchanged), if the accounts it returns are not
// valid (NewAccounts), or if there are none: a server refuses a file that
// lists no accounts.
//
// The new file is written atomically, mode 0600: into a temporary file
// beside it, synced, renamed over the old one, and the directory synced, so
// that a server reading it, now or after a crash, reads the old accounts or
// the new ones, never a mix; a symbolic link at path is followed and its
// target replaced. Concurrent updates of one file, by this process or
// others, run one after another (on Unix, under an exclusive flock of the
// file's directory), so none is lost. A running server reads the change on
// its next Reload (`userprops serve`: on SIGHUP).
func UpdateAccountsFile(path string, change func([]Account) ([]Account, error)) error {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		target, err = path, nil
	}
	if err != nil {
		return fmt.Errorf("updating accounts: %w", err)
	}
	unlock, err := lockDir(filepath.Dir(target))
	if err != nil {
		return fmt.Errorf("updating accounts in %s: %w", path, err)
	}
	defer unlock()

	list, _, err := readAccountsFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	list, err = change(list)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("updating accounts in %s: the file would list no accounts, and a server refuses such a file", path)
	}
	data, err := encodeAccounts(list)
	if err != nil {
		return fmt.Errorf("updating accounts in %s: %w", path, err)
	}
	_, err = atomicfile.Write(target, func(w io.Writer) (int64, error) {
		n, err := w.Write(data)
		return int64(n), err
	})
	if err != nil {
		return fmt.Errorf("updating accounts in %s: %w", path, err)
	}
	return nil
}
