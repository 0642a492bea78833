package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/userprops/userprops"
)

// User is an account as the user resources (GET …/user, …/myself) and the
// user search describe it.
type User struct {
	AccountID   string
	DisplayName string
	// Email is shown to administrators and to the account itself only,
	// and matched by the user search's query parameter for them only;
	// "" is none.
	Email string
	// Active is false for a deactivated account: the user search finds
	// none, GET …/user still describes them.
	Active   bool
	TimeZone string
	Locale   string
}

// The time zone and locale of an account whose entry gives none, as Jira
// shows the instance's defaults for users who have not chosen theirs.
const (
	DefaultTimeZone = "UTC"
	DefaultLocale   = "en_US"
)

// Users is the directory behind the user resources and the user search: it
// describes accounts one at a time and goes through all of them in order.
// Accounts and AccountsFile implement it. New uses the Users given with
// WithUsers, or else its Authenticator if that implements Users; with
// neither, the user routes answer 404 as unknown resources do.
//
// Its methods must be safe for concurrent use. The handler shows the fields
// of a User as they come (no defaults are applied).
type Users interface {
	// User describes the account accountID, or returns an error wrapping
	// userprops.ErrUserNotFound if there is no such account. Any other
	// error answers 500.
	User(ctx context.Context, accountID string) (User, error)
	// EachUser calls fn for every account, inactive ones included, in
	// ascending byte order of account ID, until fn returns false. It
	// returns ctx's error if ctx ends before it is done; any other error
	// answers 500.
	EachUser(ctx context.Context, fn func(User) bool) error
}

// WithUsers sets the directory of the user resources and the user search
// (see Users), instead of the Authenticator.
func WithUsers(u Users) Option {
	return func(s *server) { s.users = u }
}

// User implements Users: every account listed, its DisplayName the account
// ID, TimeZone DefaultTimeZone and Locale DefaultLocale where the entry
// gives none.
func (a *Accounts) User(_ context.Context, accountID string) (User, error) {
	acc, ok := a.byID[accountID]
	if !ok {
		return User{}, fmt.Errorf("%w: account %q is not in the accounts file", userprops.ErrUserNotFound, accountID)
	}
	return acc.user(), nil
}

// EachUser implements Users, in the order of the account IDs.
func (a *Accounts) EachUser(ctx context.Context, fn func(User) bool) error {
	for i, id := range a.ids {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !fn(a.byID[id].user()) {
			return nil
		}
	}
	return ctx.Err()
}

func (acc *account) user() User {
	u := User{
		AccountID:   acc.AccountID,
		DisplayName: acc.DisplayName,
		Email:       acc.Email,
		Active:      acc.IsActive(),
		TimeZone:    acc.TimeZone,
		Locale:      acc.Locale,
	}
	if u.DisplayName == "" {
		u.DisplayName = u.AccountID
	}
	if u.TimeZone == "" {
		u.TimeZone = DefaultTimeZone
	}
	if u.Locale == "" {
		u.Locale = DefaultLocale
	}
	return u
}

// userBody is Jira's User object, as GET …/user and the user search answer
// it, its fields in Jira's order.
type userBody struct {
	Self        string `json:"self"`
	AccountID   string `json:"accountId"`
	AccountType string `json:"accountType"`
	// EmailAddress is omitted, never null, where the caller may not see it.
	EmailAddress string     `json:"emailAddress,omitempty"`
	AvatarURLs   avatarURLs `json:"avatarUrls"`
	DisplayName  string     `json:"displayName"`
	Active       bool       `json:"active"`
	TimeZone     string     `json:"timeZone"`
	Locale       string     `json:"locale"`
}

type avatarURLs struct {
	X16 string `json:"16x16"`
	X24 string `json:"24x24"`
	X32 string `json:"32x32"`
	X48 string `json:"48x48"`
}

// canSeeEmail reports whether viewer may see u's email: administrators and the
// account itself may.
func canSeeEmail(viewer userprops.Actor, u User) bool {
	return viewer.Admin || viewer.AccountID == u.AccountID
}

// userJSON returns u as viewer may see it; base is the start of absolute
// URLs and version the API version of the request.
func userJSON(u User, viewer userprops.Actor, base, version string) userBody {
	id := url.QueryEscape(u.AccountID)
	avatar := base + avatarPath + "?ownerId=" + id + "&size="
	b := userBody{
		Self:        base + "/rest/api/" + version + "/user?accountId=" + id,
		AccountID:   u.AccountID,
		AccountType: "atlassian",
		AvatarURLs: avatarURLs{
			X16: avatar + "xsmall",
			X24: avatar + "small",
			X32: avatar + "medium",
			X48: avatar + "large",
		},
		DisplayName: u.DisplayName,
		Active:      u.Active,
		TimeZone:    u.TimeZone,
		Locale:      u.Locale,
	}
	if canSeeEmail(viewer, u) {
		b.EmailAddress = u.Email
	}
	return b
}

// user answers GET …/user?accountId=A: the account, active or not; 400 for a
// missing or invalid accountId, 404 for an account Users does not know.
func (s *server) user(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version string) {
	accountID := r.URL.Query().Get("accountId")
	if err := userprops.ValidateAccountID(accountID); err != nil {
		s.fail(w, r, err, "")
		return
	}
	s.describe(w, r, actor, version, accountID)
}

// myself answers GET …/myself: the caller's own account.
func (s *server) myself(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version string) {
	s.describe(w, r, actor, version, actor.AccountID)
}

func (s *server) describe(w http.ResponseWriter, r *http.Request, actor userprops.Actor, version, accountID string) {
	u, err := s.users.User(r.Context(), accountID)
	if err != nil {
		s.fail(w, r, err, "")
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u, actor, s.base(r), version))
}

// avatarPath is where the avatars of the avatarUrls are served, the path
// Jira Server serves them at.
const avatarPath = "/secure/useravatar"

// avatarSizes are the sizes of Jira's avatarUrls, by their names.
var avatarSizes = map[string]string{"xsmall": "16", "small": "24", "medium": "32", "large": "48"}

// avatar answers GET /secure/useravatar?ownerId=A&size=S with one neutral
// SVG silhouette of the size (xsmall 16, small 24, medium 32, large 48
// pixels; anything else 48), without authentication, as browsers load
// avatars in img elements without credentials: the image is the same for
// every ownerId, known or not, so it tells nothing about any account.
func avatar(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	px, ok := avatarSizes[r.URL.Query().Get("size")]
	if !ok {
		px = "48"
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%[1]s" height="%[1]s" viewBox="0 0 48 48">`+
		`<circle cx="24" cy="24" r="24" fill="#8993a4"/>`+
		`<circle cx="24" cy="19" r="8" fill="#fff"/>`+
		`<path d="M9 40c2-8 8-12 15-12s13 4 15 12a24 24 0 0 1-30 0z" fill="#fff"/></svg>`+"\n", px)
}
