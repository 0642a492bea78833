package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/userprops/userprops"
)

// MinTokenLength is the shortest API token Accounts accepts, in characters
// (Unicode code points), not bytes.
const MinTokenLength = 16

// Accounts is a fixed set of accounts. It is the Authenticator of a server,
// as Jira Cloud authenticates API calls; its userprops.Directory, so that
// properties can only be kept for accounts it knows (others: 404); and its
// Users, which the user resources and the user search describe. It is safe
// for concurrent use.
type Accounts struct {
	list    []Account // as given to NewAccounts
	byID    map[string]*account
	ids     []string              // every account ID, in ascending byte order
	byLogin map[string]*account   // lower-cased email, and account ID
	byToken map[[32]byte]*account // SHA-256 of the token
}

type account struct {
	Account
	tokenHash [32]byte
}

var (
	_ Authenticator       = (*Accounts)(nil)
	_ userprops.Directory = (*Accounts)(nil)
	_ Users               = (*Accounts)(nil)
)

// NewAccounts returns the Accounts for list. Every account needs a valid
// account ID and an API token of at least MinTokenLength characters (counted
// as code points: eight two-byte letters are eight characters); account
// IDs, emails and tokens must each be unique, and neither an account ID nor
// an email may hold more than three colons (see Authenticate).
func NewAccounts(list []Account) (*Accounts, error) {
	a := &Accounts{
		list:    slices.Clone(list),
		byID:    make(map[string]*account, len(list)),
		byLogin: make(map[string]*account, 2*len(list)),
		byToken: make(map[[32]byte]*account, len(list)),
	}
	for i, acc := range list {
		if err := userprops.ValidateAccountID(acc.AccountID); err != nil {
			return nil, fmt.Errorf("account %d: %w", i+1, err)
		}
		for _, f := range []struct{ name, value string }{
			{"displayName", acc.DisplayName}, {"timeZone", acc.TimeZone}, {"locale", acc.Locale},
		} {
			if !utf8.ValidString(f.value) || len(f.value) > maxProfileField {
				return nil, fmt.Errorf("account %q: its %s must be valid UTF-8 of at most %d bytes", acc.AccountID, f.name, maxProfileField)
			}
		}
		if utf8.RuneCountInString(acc.APIToken) < MinTokenLength {
			return nil, fmt.Errorf("account %q: the API token must be at least %d characters", acc.AccountID, MinTokenLength)
		}
		entry := &account{Account: acc, tokenHash: sha256.Sum256([]byte(acc.APIToken))}
		if _, dup := a.byID[acc.AccountID]; dup {
			return nil, fmt.Errorf("account %q is listed twice", acc.AccountID)
		}
		if _, dup := a.byToken[entry.tokenHash]; dup {
			return nil, fmt.Errorf("account %q: its API token is another account's too", acc.AccountID)
		}
		logins := []string{acc.AccountID}
		if acc.Email != "" {
			logins = append(logins, strings.ToLower(acc.Email))
		}
		for _, login := range logins {
			if n := strings.Count(login, ":"); n > maxLoginColons {
				return nil, fmt.Errorf("account %q: %q holds %d colons; a login (account ID or email) may hold at most %d, as HTTP Basic joins it to the token with one", acc.AccountID, login, n, maxLoginColons)
			}
			if other, dup := a.byLogin[login]; dup {
				return nil, fmt.Errorf("account %q: %q also names account %q", acc.AccountID, login, other.AccountID)
			}
			a.byLogin[login] = entry
		}
		a.byID[acc.AccountID] = entry
		a.byToken[entry.tokenHash] = entry
		a.ids = append(a.ids, acc.AccountID)
	}
	slices.Sort(a.ids)
	return a, nil
}

// maxProfileField is the longest displayName, timeZone or locale an account
// may have, in bytes.
const maxProfileField = 1024

// LoadAccounts reads an accounts file:
//
//	{"accounts": [
//	  {"accountId": "5b10ac8d82e05b22cc7d4ef5", "email": "ada@example.com",
//	   "apiToken": "…", "admin": true, "displayName": "Ada Lovelace"},
//	  {"accountId": "712020:2722a0b4-…", "email": "bob@example.com",
//	   "apiToken": "…", "displayName": "Bob Smith", "active": false,
//	   "timeZone": "Australia/Sydney", "locale": "en_AU"}
//	]}
//
// The fields are those of Account (displayName, active, timeZone and locale
// are optional); unknown ones are refused. The file must hold exactly that
// one JSON document: anything but white space after it is refused.
// UpdateAccountsFile changes such a file safely.
//
// Whoever can write the file can give themselves an administrator's token,
// so on Unix LoadAccounts refuses a file that anyone but this process's
// effective user or root could have written or put in place: one that is
// not a regular file, is owned by another user or writable by group or
// others, or lies under a directory (or symbolic link) owned by another user
// or under a directory writable by group or others without the sticky bit.
// The checks are made on the descriptors opened, component by component
// with O_NOFOLLOW, so the file checked is the file read. A missing file is
// an error wrapping fs.ErrNotExist. LoadAccounts does not report that the
// file is readable by others; OpenAccountsFile logs it.
func LoadAccounts(path string) (*Accounts, error) {
	a, _, err := loadAccounts(path)
	return a, err
}

// loadAccounts is LoadAccounts, returning also the warnings about the file.
func loadAccounts(path string) (*Accounts, []string, error) {
	list, warnings, err := readAccountsFile(path)
	if err != nil {
		return nil, nil, err
	}
	a, err := NewAccounts(list)
	if err != nil {
		return nil, nil, fmt.Errorf("accounts in %s: %w", path, err)
	}
	return a, warnings, nil
}

// WriteAccounts creates an accounts file at path holding list, with mode 0600.
// It fails if the file exists.
func WriteAccounts(path string, list []Account) error {
	data, err := encodeAccounts(list)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// NewToken returns a random API token: 32 bytes from crypto/rand, base64url.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// Authenticate implements Authenticator as Jira Cloud does for API tokens:
// HTTP Basic with the account's email (or account ID) as user name and its API
// token as password, or "Authorization: Bearer <token>". Tokens are compared
// in constant time.
//
// HTTP Basic joins user name and password with a colon, and account IDs may
// hold colons themselves ("712020:2722a0b4-…"), so the credentials are not
// split at their first colon only: each of their first maxLoginColons+1
// colons is tried as the split point, and the credentials are accepted when
// the part before it names an account and the part after it is that
// account's token (the first such split wins). Every split point costs the
// same work whether or not its part before names an account, so the time
// Authenticate takes does not tell which accounts exist.
func (a *Accounts) Authenticate(r *http.Request) (userprops.Actor, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return userprops.Actor{}, fmt.Errorf("%w: no credentials", userprops.ErrUnauthorized)
	}
	if scheme, token, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		if acc, ok := a.byToken[sha256.Sum256([]byte(strings.TrimSpace(token)))]; ok {
			return acc.actor(), nil
		}
		return userprops.Actor{}, fmt.Errorf("%w: unknown token", userprops.ErrUnauthorized)
	}
	cred, ok := basicCredentials(auth)
	if !ok {
		return userprops.Actor{}, fmt.Errorf("%w: unsupported Authorization scheme", userprops.ErrUnauthorized)
	}
	acc := a.basicLogin(cred)
	if acc == nil {
		return userprops.Actor{}, fmt.Errorf("%w: wrong user name or API token", userprops.ErrUnauthorized)
	}
	return acc.actor(), nil
}

// maxLoginColons is the most colons a login (an account ID or an email) may
// hold. Authenticate tries each of the first maxLoginColons+1 colons of HTTP
// Basic credentials as the split between login and token, each with a hash
// of what follows it: the bound keeps the work one request can cause small
// whatever it sends. Jira's account IDs hold one colon ("712020:…") or two
// ("qm:…:…").
const maxLoginColons = 3

// basicCredentials returns the decoded "login:token" of an HTTP Basic
// Authorization header, as net/http's Request.BasicAuth parses it, but
// without splitting it.
func basicCredentials(auth string) (string, bool) {
	const prefix = "Basic "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", false
	}
	c, err := base64.StdEncoding.DecodeString(auth[len(prefix):])
	if err != nil || !bytes.Contains(c, []byte(":")) {
		return "", false
	}
	return string(c), true
}

// basicLogin returns the account that the HTTP Basic credentials cred
// ("login:token", where login may hold up to maxLoginColons colons) belong
// to, or nil. It does the same work at every split point, whatever the
// accounts: look the login up (as given and lower-cased), hash the token,
// and compare the hash in constant time with the account's, or with
// unknownLogin when no account has that login.
func (a *Accounts) basicLogin(cred string) *account {
	var match *account
	matched := 0
	start := 0
	for range maxLoginColons + 1 {
		i := strings.IndexByte(cred[start:], ':')
		if i < 0 {
			break
		}
		i += start
		login, token := cred[:i], cred[i+1:]
		acc, exact := a.byLogin[login]
		folded, byFold := a.byLogin[strings.ToLower(login)]
		if !exact {
			acc = folded
		}
		found := 0
		want := &unknownLogin
		if exact || byFold {
			found, want = 1, &acc.tokenHash
		}
		given := sha256.Sum256([]byte(token))
		ok := subtle.ConstantTimeCompare(given[:], want[:]) & found &^ matched
		if ok == 1 {
			match = acc
		}
		matched |= ok
		start = i + 1
	}
	return match
}

// unknownLogin is compared against when a login names no account.
var unknownLogin = sha256.Sum256([]byte("no account has this token"))

func (acc *account) actor() userprops.Actor {
	return userprops.Actor{AccountID: acc.AccountID, Admin: acc.Admin}
}

// Len returns how many accounts there are.
func (a *Accounts) Len() int { return len(a.byID) }

// UserExists implements userprops.Directory: the accounts listed exist.
func (a *Accounts) UserExists(_ context.Context, accountID string) (bool, error) {
	_, ok := a.byID[accountID]
	return ok, nil
}
