package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/userprops/userprops/httpapi"
)

// reload is one thing SIGHUP reads again: it replaces what is in use with
// what its files hold now, or keeps what is in use, and logs which.
type reload func()

// reloadOnHangup runs each of reloads, in order, each time the process gets
// SIGHUP, until ctx ends or the returned stop is called (stop waits for a
// reload in progress). Catching SIGHUP also keeps it from ending the
// process, its default.
func reloadOnHangup(ctx context.Context, reloads ...reload) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
				for _, r := range reloads {
					r()
				}
			}
		}
	})
	return func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
}

// accountsReload reloads accounts: a good file replaces the accounts in use
// at once, for every later request; a file that fails to load (missing,
// unsafe, invalid) leaves them as they were, and the log says why.
func accountsReload(accounts *httpapi.AccountsFile, log *slog.Logger) reload {
	return func() {
		if err := accounts.Reload(); err != nil {
			log.Error("reloading accounts failed; keeping the accounts in use", "file", accounts.Path(), "err", err)
			return
		}
		log.Info("reloaded accounts", "file", accounts.Path(), "accounts", accounts.Accounts().Len())
	}
}

// certificateReload reloads the TLS certificate and key: a good pair is
// presented to every later handshake; a bad one (see certificate.Reload)
// leaves the pair in use, and the log says why.
func certificateReload(cert *certificate, log *slog.Logger) reload {
	return func() {
		if err := cert.Reload(); err != nil {
			log.Error("reloading the TLS certificate failed; keeping the certificate in use", "err", err, "expires", cert.expires())
			return
		}
		log.Info("reloaded the TLS certificate", "cert", cert.certFile, "expires", cert.expires())
	}
}
