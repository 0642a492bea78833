package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/userprops/userprops"
)

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
