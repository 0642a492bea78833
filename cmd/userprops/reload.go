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

// reloadOnHangup reloads accounts each time the process gets SIGHUP, until
// ctx ends or the returned stop is called (stop waits for a reload in
// progress). Catching SIGHUP also keeps it from ending the process, its
// default. Each reload is logged: a good file replaces the accounts in use
// at once, for every later request; a file that fails to load (missing,
// unsafe, invalid) leaves them as they were, and the log says why.
func reloadOnHangup(ctx context.Context, accounts *httpapi.AccountsFile, log *slog.Logger) (stop func()) {
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
				reloadAccounts(accounts, log)
			}
		}
	})
	return func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
}

// reloadAccounts reloads accounts and logs the outcome.
func reloadAccounts(accounts *httpapi.AccountsFile, log *slog.Logger) {
	if err := accounts.Reload(); err != nil {
		log.Error("reloading accounts failed; keeping the accounts in use", "file", accounts.Path(), "err", err)
		return
	}
	log.Info("reloaded accounts", "file", accounts.Path(), "accounts", accounts.Accounts().Len())
}
