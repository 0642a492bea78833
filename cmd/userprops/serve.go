package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/userprops/userprops"
	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/pgstore"
)

// shutdownTimeout bounds how long serve waits for requests in flight when it
// is asked to stop.
const shutdownTimeout = 10 * time.Second

// serve serves the REST API from a store file until ctx is done (SIGINT or
// SIGTERM), then finishes the requests in flight and closes the store. On
// SIGHUP it reads the accounts file, and the TLS certificate and key, again
// (see reloadOnHangup). It serves HTTPS with --tls-cert and --tls-key, and
// refuses plain HTTP on an address other machines reach unless
// --behind-tls-proxy says a proxy in front speaks TLS for it.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dbPath := flags.String("db", "userprops.db", "store `file`, created if missing")
	addr := flags.String("addr", "127.0.0.1:8080", "`address` to listen on")
	accountsPath := flags.String("accounts", "", "accounts `file` (default: accounts.json beside the store, created with one administrator if missing)")
	baseURL := flags.String("base-url", "", "`URL` that self links start with (default: the scheme and host of each request)")
	postgres := flags.String("postgres", "", "serve from the PostgreSQL database at `DSN` instead of the --db file, so that several servers share one store")
	maxConns := flags.Int("max-connections", defaultMaxConnections, "at most `N` connections open at once (lowered to fit the open-file limit); at the cap the longest idle one is closed")
	idleTimeout := flags.Duration("idle-timeout", defaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	var indexes indexFlag
	flags.Var(&indexes, "index", indexUsage)
	network := addNetworkFlags(flags)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if err := network.check(); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", flags.Args())}
	}
	if *baseURL != "" {
		if u, err := url.Parse(*baseURL); err != nil || u.Scheme == "" || u.Host == "" {
			return usageError{fmt.Sprintf("--base-url %q is not an absolute URL", *baseURL)}
		}
	}
	if *maxConns < 1 || *idleTimeout <= 0 {
		return usageError{"--max-connections and --idle-timeout must be positive"}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var cert *certificate
	if network.tls() {
		var err error
		if cert, err = loadCertificate(network.tlsCert, network.tlsKey); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := network.checkExposure(ln.Addr()); err != nil {
		return err
	}
	if network.behindProxy && len(network.proxies) == 0 && !isLoopback(ln.Addr()) {
		log.Warn("--behind-tls-proxy without --trusted-proxy believes forwarded headers from this machine only; name the proxy's address, or every client counts as the proxy for rate limits",
			"addr", ln.Addr().String())
	}
	base := network.scheme() + "://" + ln.Addr().String()
	if *baseURL != "" {
		base = *baseURL
	}

	accounts, err := loadOrCreateAccounts(*accountsPath, *dbPath, base, stdout, log)
	if err != nil {
		return err
	}
	reloads := []reload{accountsReload(accounts, log)}
	if cert != nil {
		reloads = append(reloads, certificateReload(cert, log))
	}
	defer reloadOnHangup(ctx, reloads...)()
	store, where, err := openServeStore(ctx, *postgres, *dbPath, append(indexes.options(), userprops.WithDirectory(accounts)))
	if err != nil {
		return err
	}
	defer store.Close()

	var opts []httpapi.Option
	opts = append(opts, httpapi.WithLogger(log))
	opts = append(opts, network.options()...)
	if *baseURL != "" {
		opts = append(opts, httpapi.WithBaseURL(*baseURL))
	}
	maxOpen, fits := capConnections(*maxConns, fileLimit())
	if !fits {
		log.Warn("--max-connections lowered to fit the open-file limit", "requested", *maxConns, "max", maxOpen, "fileLimit", fileLimit())
	}
	limited := limitConnections(ln, maxOpen, log)
	srv := newHTTPServer(routes(httpapi.New(store, accounts, opts...)), limited, *idleTimeout, log)

	served := make(chan error, 1)
	if cert != nil {
		srv.TLSConfig = cert.tlsConfig()
		go func() { served <- srv.ServeTLS(limited, "", "") }()
		log.Info("serving HTTPS", "cert", network.tlsCert, "expires", cert.expires())
	} else {
		go func() { served <- srv.Serve(limited) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "store", where, "maxConnections", maxOpen)
	fmt.Fprintf(stdout, "serving on %s://%s (store %s)\n", network.scheme(), ln.Addr(), where)
	if *baseURL != "" {
		fmt.Fprintf(stdout, "self links start with %s\n", *baseURL)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := store.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// openServeStore opens the store to serve with opts: the PostgreSQL
// database at dsn if one is given, otherwise the bolt file at dbPath. It also
// says which, for the log (without the DSN, which may hold a password).
func openServeStore(ctx context.Context, dsn, dbPath string, opts []userprops.Option) (userprops.Store, string, error) {
	if dsn != "" {
		s, err := pgstore.Open(ctx, dsn, opts...)
		return s, "postgres", err
	}
	s, err := userprops.OpenBolt(dbPath, opts...)
	if err != nil {
		return nil, "", err
	}
	return s, s.Path(), nil
}

// loadOrCreateAccounts loads the accounts file at path (refusing one others
// could have written, see httpapi.LoadAccounts) and says which file it is
// and how to list its accounts. With no path it uses accounts.json beside
// the store, creating it, on first start, with one administrator and a
// random API token, and prints how to call the server.
func loadOrCreateAccounts(path, dbPath, base string, stdout io.Writer, log *slog.Logger) (*httpapi.AccountsFile, error) {
	given := path != ""
	if !given {
		path = filepath.Join(filepath.Dir(dbPath), "accounts.json")
	}
	accounts, err := httpapi.OpenAccountsFile(path, log)
	if err == nil {
		abs, _ := filepath.Abs(path) // on error, abs is ""
		fmt.Fprintf(stdout, "accounts from %s (%d); list them with: userprops accounts list --accounts %s\n",
			path, accounts.Accounts().Len(), shellQuote(cmp.Or(abs, path)))
	}
	if given || !errors.Is(err, fs.ErrNotExist) {
		return accounts, err
	}
	// Jira clients such as jira.js insist on an email with a dotted domain.
	admin := httpapi.Account{AccountID: "admin", Email: "admin@userprops.localhost", APIToken: httpapi.NewToken(), Admin: true}
	if err := httpapi.WriteAccounts(path, []httpapi.Account{admin}); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "created %s with one administrator, account ID %q; call the server with:\n\n", path, admin.AccountID)
	fmt.Fprintf(stdout, "  curl -i -u '%s:%s' -X PUT -H 'Content-Type: application/json' --data '{\"theme\":\"dark\"}' '%s/rest/api/3/user/properties/settings?accountId=%s'\n",
		admin.Email, admin.APIToken, base, admin.AccountID)
	fmt.Fprintf(stdout, "  curl -u '%s:%s' '%s/rest/api/3/user/properties/settings?accountId=%s'\n\n",
		admin.Email, admin.APIToken, base, admin.AccountID)
	return httpapi.OpenAccountsFile(path, log)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
