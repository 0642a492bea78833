package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/userprops/userprops/httpapi"
	"github.com/userprops/userprops/internal/atomicfile"
)

// tokenEnv names the environment variable that holds the API token backup
// --server sends (never a flag: other users see a process's arguments).
const tokenEnv = "USERPROPS_TOKEN"

// backup writes a consistent copy of a store to a new file and prints
// {"backup":OUT,"bytes":N}: with --db, of a store file this process opens
// (not one that serve holds); with --server, of the store a running serve
// holds, fetched from its backup route (httpapi.BackupPath) with the
// administrator's API token in $USERPROPS_TOKEN, with progress on stderr,
// and checked against the length and SHA-256 the server sends after it
// (the output then says "sha256" too). The copy is written beside OUT,
// synced and renamed into place, so OUT is either absent or whole.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFileFlags("backup", "OUT | --server URL --out FILE", stderr)
	server := f.fs.String("server", "", "back up the store of the server at `URL` (with the token in $"+tokenEnv+")")
	outFlag := f.fs.String("out", "", "write the copy to `FILE` (with --server)")
	if err := f.parse(args, 0, 1); err != nil {
		return err
	}
	if *server != "" {
		dbGiven := false
		f.fs.Visit(func(fl *flag.Flag) { dbGiven = dbGiven || fl.Name == "db" })
		switch {
		case dbGiven:
			return usageError{"give --db or --server, not both"}
		case *outFlag == "" || f.fs.NArg() != 0:
			return usageError{"backup --server URL takes --out FILE and no arguments"}
		}
		return backupServer(ctx, *server, *outFlag, stdout, stderr)
	}
	if *outFlag != "" || f.fs.NArg() != 1 {
		return usageError{"backup --db FILE takes OUT as its one argument (--out goes with --server)"}
	}
	out := f.fs.Arg(0)
	if err := mustBeNew(out); err != nil {
		return err
	}
	store, err := openExisting(f.db)
	if err != nil {
		return err
	}
	defer store.Close()

	n, err := atomicfile.Write(out, func(w io.Writer) (int64, error) { return store.Backup(ctx, w) })
	if err != nil {
		return err
	}
	return printJSON(stdout, backupLine{Backup: out, Bytes: n})
}

// backupLine is what backup prints.
type backupLine struct {
	Backup string `json:"backup"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
}

// mustBeNew refuses an output path that exists: backups go to new files.
func mustBeNew(out string) error {
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s exists: back up into a new file", out)
	}
	return nil
}

// backupServer fetches the backup of the server at base into the new file
// out.
func backupServer(ctx context.Context, base, out string, stdout, stderr io.Writer) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return usageError{fmt.Sprintf("--server %q is not an absolute URL", base)}
	}
	token := os.Getenv(tokenEnv)
	if token == "" {
		return usageError{"backup --server needs an administrator's API token in $" + tokenEnv}
	}
	if err := mustBeNew(out); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+httpapi.BackupPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("backing up %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("backing up %s: the server answered %s%s", base, resp.Status, jiraMessage(resp.Body))
	}

	sum := sha256.New()
	prog := newProgress(stderr, "backup bytes received")
	n, err := atomicfile.Write(out, func(w io.Writer) (int64, error) {
		n, err := io.Copy(io.MultiWriter(w, sum, progressWriter{prog}), resp.Body)
		if err != nil {
			return n, fmt.Errorf("backing up %s: the copy was cut off after %d bytes: %w", base, n, err)
		}
		// The trailers come after the body: they say what the server sent.
		wantBytes := resp.Trailer.Get(httpapi.BackupBytesTrailer)
		wantSum := resp.Trailer.Get(httpapi.BackupSHA256Trailer)
		switch {
		case wantBytes == "" || wantSum == "":
			return n, fmt.Errorf("backing up %s: the server sent no length and checksum after the copy", base)
		case wantBytes != strconv.FormatInt(n, 10):
			return n, fmt.Errorf("backing up %s: received %d bytes, the server sent %s", base, n, wantBytes)
		case wantSum != hex.EncodeToString(sum.Sum(nil)):
			return n, fmt.Errorf("backing up %s: the copy received does not match the server's SHA-256", base)
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	prog.done()
	return printJSON(stdout, backupLine{Backup: out, Bytes: n, SHA256: hex.EncodeToString(sum.Sum(nil))})
}

// progressWriter counts what passes through it.
type progressWriter struct{ p *progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.addN(len(b))
	return len(b), nil
}

// jiraMessage returns ": " and the messages of a Jira error body, or "".
func jiraMessage(body io.Reader) string {
	var e struct {
		ErrorMessages []string `json:"errorMessages"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&e); err != nil || len(e.ErrorMessages) == 0 {
		return ""
	}
	return ": " + strings.Join(e.ErrorMessages, " ")
}
