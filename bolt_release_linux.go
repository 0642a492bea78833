package userprops

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// releaseMapping unmaps every mapping of f's file in this process. It is
// for the one case where bbolt cannot: it panicked (or faulted) inside Open,
// after mapping the file, and its DB value is lost with its mapping. A
// mapping holds the file open, and with it the flock that bbolt took, so
// without this a later OpenBolt of the repaired file would wait for a lock
// that nothing can release. The mappings are found in /proc/self/maps by the
// file's device and inode.
func releaseMapping(f *os.File) {
	info, err := f.Stat()
	if err != nil {
		return
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer maps.Close()
	// Unmap after reading: unmapping changes the file being read.
	var spans [][2]uintptr
	dev := fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev))
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// address perms offset dev inode pathname
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[3] != dev || fields[4] != strconv.FormatUint(st.Ino, 10) {
			continue
		}
		from, to, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if ok && err1 == nil && err2 == nil && end > start {
			spans = append(spans, [2]uintptr{uintptr(start), uintptr(end - start)})
		}
	}
	for _, sp := range spans {
		_, _, _ = syscall.Syscall(syscall.SYS_MUNMAP, sp[0], sp[1], 0)
	}
}
