//go:build unix

package httpapi

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is how many symbolic links openAccountsFile follows on one
// path before it gives up with ELOOP, as the kernel does.
const maxSymlinks = 40

// openAccountsFile opens the accounts file at path for reading, after making
// sure that nobody but this process's effective user and root could have
// written it or put it there, as OpenSSH does for its key files:
//
//   - the file is a regular file, owned by the effective user or root, and
//     not writable by group or others;
//   - every directory from the root down to the file is owned by the
//     effective user or root, and not writable by group or others unless it
//     has the sticky bit (as /tmp has), which keeps others from renaming or
//     deleting what they do not own;
//   - every symbolic link on the way is owned by the effective user or
//     root; the directories and file it leads to are checked in turn.
//
// The path is resolved one component at a time, each opened with O_NOFOLLOW
// relative to the directory opened before it, and each check is made with
// fstat on the descriptor opened, so that what is checked is what is read:
// nothing can be swapped in between. A FIFO or device is refused without
// waiting on it (O_NONBLOCK). The file being readable by others is not an
// error; it comes back as a warning.
//
// When the file is missing (and the directories above it are safe), the
// error wraps fs.ErrNotExist.
func openAccountsFile(path string) (*os.File, []string, error) {
	abs := path
	if !strings.HasPrefix(path, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return nil, nil, err
		}
		abs = wd + "/" + path
	}
	euid := os.Geteuid()

	// dirs are the directories opened so far, the last the current one;
	// names their resolved paths.
	var dirs []int
	var names []string
	defer func() {
		for _, fd := range dirs {
			unix.Close(fd)
		}
	}()
	toRoot := func() error {
		for _, fd := range dirs {
			unix.Close(fd)
		}
		dirs, names = dirs[:0], names[:0]
		fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: "/", Err: err}
		}
		dirs, names = append(dirs, fd), append(names, "/")
		return checkDir(fd, "/", euid)
	}
	if err := toRoot(); err != nil {
		return nil, nil, err
	}

	rest := splitPath(abs)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			if len(dirs) > 1 {
				unix.Close(dirs[len(dirs)-1])
				dirs, names = dirs[:len(dirs)-1], names[:len(names)-1]
			}
			continue
		}
		dir := dirs[len(dirs)-1]
		where := strings.TrimSuffix(names[len(names)-1], "/") + "/" + name

		var st unix.Stat_t
		if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, nil, &fs.PathError{Op: "open", Path: where, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if !ownerOK(st.Uid, euid) {
				return nil, nil, fmt.Errorf("%s: symbolic link %s is owned by uid %d; links on the way to an accounts file must be owned by uid %d (this process) or root", path, where, st.Uid, euid)
			}
			if links++; links > maxSymlinks {
				return nil, nil, &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
			}
			target, err := readlinkat(dir, name)
			if err != nil {
				return nil, nil, &fs.PathError{Op: "readlink", Path: where, Err: err}
			}
			if strings.HasPrefix(target, "/") {
				if err := toRoot(); err != nil {
					return nil, nil, err
				}
			}
			rest = append(splitPath(target), rest...)
			continue
		}

		if len(rest) > 0 {
			// A directory on the way.
			fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, nil, &fs.PathError{Op: "open", Path: where, Err: err}
			}
			dirs, names = append(dirs, fd), append(names, where)
			if err := checkDir(fd, where, euid); err != nil {
				return nil, nil, err
			}
			continue
		}

		// The file itself.
		fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, &fs.PathError{Op: "open", Path: where, Err: err}
		}
		warnings, err := checkFile(fd, path, euid)
		if err == nil {
			err = unix.SetNonblock(fd, false)
		}
		if err != nil {
			unix.Close(fd)
			return nil, nil, err
		}
		return os.NewFile(uintptr(fd), path), warnings, nil
	}
	return nil, nil, fmt.Errorf("%s is not a regular file", path)
}

// splitPath returns the components of path, without empty ones and ".".
func splitPath(path string) []string {
	var parts []string
	for _, p := range strings.Split(path, "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	return parts
}

// ownerOK reports whether uid may own an accounts file or a directory or
// link above one: the effective user or root.
func ownerOK(uid uint32, euid int) bool {
	return uid == 0 || int64(uid) == int64(euid)
}

// checkDir checks the directory open at fd, named where.
func checkDir(fd int, where string, euid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: where, Err: err}
	}
	if !ownerOK(st.Uid, euid) {
		return fmt.Errorf("directory %s is owned by uid %d; the directories above an accounts file must be owned by uid %d (this process) or root", where, st.Uid, euid)
	}
	mode := uint32(st.Mode)
	if mode&0o022 != 0 && mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("directory %s is writable by others (mode %04o) and not sticky: they could replace the accounts file in it", where, mode&0o7777)
	}
	return nil
}

// checkFile checks the accounts file open at fd, named path, and returns
// warnings about it.
func checkFile(fd int, path string, euid int) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	mode := uint32(st.Mode)
	if mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if !ownerOK(st.Uid, euid) {
		return nil, fmt.Errorf("%s is owned by uid %d; an accounts file must be owned by uid %d (this process) or root", path, st.Uid, euid)
	}
	if mode&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by others (mode %04o): they could give themselves an administrator's token (chmod go-w %s)", path, mode&0o7777, path)
	}
	if mode&0o044 != 0 {
		return []string{fmt.Sprintf("%s is readable by others (mode %04o): whoever can read it can call the server with its tokens (chmod go-r %s)", path, mode&0o7777, path)}, nil
	}
	return nil, nil
}

// readlinkat returns the target of the symbolic link name in the directory
// open at dir.
func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 1<<16 {
			return "", unix.ENAMETOOLONG
		}
	}
}

// lockDir takes an exclusive flock of dir, waiting for it, and returns what
// releases it.
func lockDir(dir string) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "flock", Path: dir, Err: err}
	}
	return func() { unix.Close(fd) }, nil
}
