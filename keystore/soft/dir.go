package soft

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/vauth/vauth/keystore"
)

// Files of a store directory.
const (
	dbFile        = "store.db"
	masterFile    = "master.key"
	masterNewFile = "master.key.new" // the renewed master key while Reset commits
	lockFile      = "lock"
	tmpSuffix     = ".tmp"
)

// prepareDir makes the store directory 0700, or checks that an existing one
// is private. An existing directory open to group or others is tightened
// when it is empty and refused when it holds anything, since its files may
// already have been read.
func prepareDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("soft: create store directory: %w", err)
		}
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return fmt.Errorf("soft: create store directory: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("soft: store directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("soft: %s is not a directory", dir)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("soft: store directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("soft: store directory %s is accessible by group or others (mode %04o); fix it with: chmod 700 %s", dir, perm, dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("soft: tighten store directory: %w", err)
	}
	log.Warn("tightened store directory permissions", "dir", dir, "was", fmt.Sprintf("%04o", perm))
	return nil
}

// checkPrivate refuses an existing store file that group or others can
// access.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("soft: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("soft: %s is accessible by group or others (mode %04o); fix it with: chmod 600 %s", path, perm, path)
	}
	return nil
}

// lockDir takes the store's exclusive lock and writes this process's pid
// into the lock file. It fails at once, wrapping keystore.ErrInUse and
// naming the holder's pid, when the store is open elsewhere (in this process
// too).
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("soft: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "unknown pid"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by %s", keystore.ErrInUse, dir, holder)
		}
		return nil, fmt.Errorf("soft: lock %s: %w", path, err)
	}
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("soft: lock file: %w", err)
	}
	return f, nil
}

// writeFileAtomic replaces dir/name with data (0600): written to a temporary
// file, synced, renamed into place, and the directory synced, so that the
// file is either the old one or the new one after a crash.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("soft: write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("soft: write %s: %w", name, err)
	}
	return nil
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
