package soft

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/internal/keystoretest"
	"github.com/vauth/vauth/keystore"
)

// opener returns a keystoretest.Opener that opens a soft store with opts.
func opener(opts Options) keystoretest.Opener {
	return func(t *testing.T, dir string) keystore.Keystore {
		t.Helper()
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

func TestConformance(t *testing.T) {
	keystoretest.Run(t, opener(Options{}))
}

// TestConformanceSmallBlocks runs the suite with a counter block so small
// that nearly every counter value crosses a reservation.
func TestConformanceSmallBlocks(t *testing.T) {
	keystoretest.Run(t, opener(Options{CounterBlock: 16}))
}

// TestConformancePassphrase runs the suite with the master key wrapped by a
// passphrase (at a low argon2id cost, to keep the many reopenings quick).
func TestConformancePassphrase(t *testing.T) {
	cheapWrap(t)
	keystoretest.Run(t, opener(Options{Passphrase: []byte("correct horse")}))
}

// cheapWrap lowers the argon2id cost of new wraps for one test.
func cheapWrap(t *testing.T) {
	saved := newWrapCost
	newWrapCost = argon2Cost{time: 1, memoryKiB: 64, threads: 1}
	t.Cleanup(func() { newWrapCost = saved })
}

// mustOpen opens a store and closes it when the test ends.
func mustOpen(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustClose(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var testRP = sha256.Sum256([]byte("example.com"))

func createCred(t *testing.T, s *Store, discoverable bool, user string) *keystore.Credential {
	t.Helper()
	c, err := s.Create(keystore.CreateRequest{
		RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte(user), Name: user},
		Algorithm: keystore.ES256, Discoverable: discoverable,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

func TestPermissions(t *testing.T) {
	mode := func(t *testing.T, path string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // given an empty 0700 dir, returns the dir to open
		wantErr string                                // "" for success
	}{
		{"new directory", func(t *testing.T, dir string) string { os.Remove(dir); return dir }, ""},
		{"new nested directory", func(t *testing.T, dir string) string { return filepath.Join(dir, "a", "b") }, ""},
		{"empty open directory is tightened", func(t *testing.T, dir string) string { os.Chmod(dir, 0o755); return dir }, ""},
		{"open directory holding a store", func(t *testing.T, dir string) string {
			mustClose(t, mustOpen(t, dir, Options{}))
			os.Chmod(dir, 0o750)
			return dir
		}, "chmod 700 "},
		{"open directory holding other files", func(t *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "notes"), nil, 0o600)
			os.Chmod(dir, 0o705)
			return dir
		}, "chmod 700 "},
		{"readable master key", func(t *testing.T, dir string) string {
			mustClose(t, mustOpen(t, dir, Options{}))
			os.Chmod(filepath.Join(dir, masterFile), 0o644)
			return dir
		}, "chmod 600 "},
		{"readable database", func(t *testing.T, dir string) string {
			mustClose(t, mustOpen(t, dir, Options{}))
			os.Chmod(filepath.Join(dir, dbFile), 0o640)
			return dir
		}, "chmod 600 "},
		{"not a directory", func(t *testing.T, dir string) string {
			os.Remove(dir)
			os.WriteFile(dir, nil, 0o600)
			return dir
		}, "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			dir = tc.setup(t, dir)
			s, err := Open(dir, Options{})
			if tc.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatalf("Open succeeded, want an error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("Open: %v, want an error containing %q and the path", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if m := mode(t, dir); m != 0o700 {
				t.Errorf("directory mode %04o, want 0700", m)
			}
			for _, name := range []string{dbFile, masterFile, lockFile} {
				if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
					t.Errorf("%s mode %04o, want 0600", name, m)
				}
			}
		})
	}
}

func TestLockInProcess(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	start := time.Now()
	_, err := Open(dir, Options{})
	if !errors.Is(err, keystore.ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("second Open took %v, want an immediate failure", elapsed)
	}
	if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: %v, want it to name %q", err, want)
	}
	mustClose(t, s)
	mustClose(t, mustOpen(t, dir, Options{}))
}

func TestPassphrase(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("correct horse battery staple")
	s := mustOpen(t, dir, Options{Passphrase: pass})
	nd := createCred(t, s, false, "nd")
	d := createCred(t, s, true, "d")
	mustClose(t, s)

	sealed, err := os.ReadFile(filepath.Join(dir, masterFile))
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != masterArgon2V1 {
		t.Fatalf("master key file format %#02x, want the argon2id wrap", sealed[0])
	}
	tests := []struct {
		name       string
		passphrase []byte
		wrong      bool // want ErrWrongPassphrase
	}{
		{"wrong passphrase", []byte("incorrect horse"), true},
		{"no passphrase", nil, true},
		{"empty passphrase", []byte{}, true},
		{"right passphrase", pass, false},
	}
	for _, tc := range tests {
		s, err := Open(dir, Options{Passphrase: tc.passphrase})
		if tc.wrong {
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("%s: Open = %v, want ErrWrongPassphrase", tc.name, err)
			}
			if err == nil {
				s.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Open: %v", tc.name, err)
		}
		for _, c := range []*keystore.Credential{nd, d} {
			if _, err := s.Lookup(testRP, c.ID); err != nil {
				t.Errorf("%s: Lookup: %v", tc.name, err)
			}
		}
		if err := s.Reset(); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		mustClose(t, s)
	}
	// Reset rewraps the new master key with the same passphrase.
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("Open without passphrase after Reset: %v, want ErrWrongPassphrase", err)
	}
	mustClose(t, mustOpen(t, dir, Options{Passphrase: pass}))

	// A plain store refuses a passphrase rather than pretend to use it.
	plain := t.TempDir()
	mustClose(t, mustOpen(t, plain, Options{}))
	if _, err := Open(plain, Options{Passphrase: pass}); err == nil || !strings.Contains(err.Error(), "not passphrase-protected") {
		t.Errorf("Open of a plain store with a passphrase: %v, want a not-protected error", err)
	}
}

func TestUnsealMalformed(t *testing.T) {
	cheapWrap(t)
	f := &fileSealer{passphrase: []byte("p"), rand: rand.Reader}
	good, err := f.Seal(bytes.Repeat([]byte{7}, masterKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	costly := bytes.Clone(good)
	costly[5] = 0xff // memory KiB far beyond the bound: refused before any allocation
	zeroTime := bytes.Clone(good)
	copy(zeroTime[1:5], []byte{0, 0, 0, 0})
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"unknown format", []byte{0x7f, 1, 2}, "unknown format"},
		{"truncated header", good[:8], "truncated"},
		{"truncated nonce", good[:1+4+4+1+argon2SaltLen+3], "truncated"},
		{"cost out of range", costly, "out of range"},
		{"zero time", zeroTime, "out of range"},
		{"flipped tag", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1), "wrong passphrase"},
	}
	for _, tc := range tests {
		if _, err := f.Unseal(tc.blob); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Unseal = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	key, err := f.Unseal(good)
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{7}, masterKeyLen)) {
		t.Errorf("Unseal of the good blob = %x, %v", key, err)
	}
}

// editDB changes a closed store's database directly.
func editDB(t *testing.T, dir string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestFormatVersions(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	c := createCred(t, s, true, "u")
	mustClose(t, s)

	editDB(t, dir, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte{formatVersion + 1})
	})
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this vauth") {
		t.Fatalf("Open of a newer store: %v, want a version error", err)
	}

	editDB(t, dir, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keyVersion, []byte{formatVersion}); err != nil {
			return err
		}
		val := bytes.Clone(tx.Bucket(bucketCreds).Get(c.ID))
		val[0] = 9
		return tx.Bucket(bucketCreds).Put(c.ID, val)
	})
	s = mustOpen(t, dir, Options{})
	if _, err := s.Lookup(testRP, c.ID); err == nil || errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), "format version 9") {
		t.Errorf("Lookup of a record with an unknown version: %v, want a version error", err)
	}
	if _, err := s.All(); err == nil {
		t.Errorf("All with an unreadable record succeeded")
	}
}

func TestMasterKeyFile(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	mustClose(t, mustOpen(t, a, Options{}))
	mustClose(t, mustOpen(t, b, Options{}))
	other, err := os.ReadFile(filepath.Join(b, masterFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, masterFile), other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(a, Options{}); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("Open with another store's master key: %v, want a mismatch error", err)
	}
	os.Remove(filepath.Join(a, masterFile))
	if _, err := Open(a, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open without the master key: %v, want a missing-key error", err)
	}
}

// TestInterruptedReset recovers from a crash between Reset's commit and its
// rename, and from a crash before its commit.
func TestInterruptedReset(t *testing.T) {
	t.Run("committed", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		old := createCred(t, s, false, "old")
		oldKey, err := os.ReadFile(filepath.Join(dir, masterFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
		fresh := createCred(t, s, false, "fresh")
		mustClose(t, s)
		// Put the directory back as it is just before the rename.
		if err := os.Rename(filepath.Join(dir, masterFile), filepath.Join(dir, masterNewFile)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, masterFile), oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, dir, Options{})
		if _, err := s.Lookup(testRP, fresh.ID); err != nil {
			t.Errorf("credential made after the reset: %v", err)
		}
		if _, err := s.Lookup(testRP, old.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("credential from before the reset: %v, want ErrNotFound", err)
		}
		if _, err := os.Stat(filepath.Join(dir, masterNewFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", masterNewFile, err)
		}
	})
	t.Run("not committed", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		s := mustOpen(t, dir, Options{})
		kept := createCred(t, s, false, "kept")
		mustClose(t, s)
		mustClose(t, mustOpen(t, elsewhere, Options{}))
		stray, err := os.ReadFile(filepath.Join(elsewhere, masterFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, masterNewFile), stray, 0o600); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, dir, Options{})
		if _, err := s.Lookup(testRP, kept.ID); err != nil {
			t.Errorf("credential of the store: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, masterNewFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", masterNewFile, err)
		}
	})
}

// TestCounterReservation checks the on-disk high-water mark after every
// value, once the background reservations have landed: never below the
// value handed out, never more than a block above it, and written about
// once per half block.
func TestCounterReservation(t *testing.T) {
	const block = 10
	for _, discoverable := range []bool{false, true} {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{CounterBlock: block})
		c := createCred(t, s, discoverable, "u")
		stored := func() uint32 {
			var mark uint32
			err := s.db.View(func(tx *bolt.Tx) error {
				val := tx.Bucket(bucketCounters).Get(c.ID)
				if val == nil {
					return errors.New("no counter record")
				}
				var err error
				mark, err = parseCounter(val)
				return err
			})
			if err != nil {
				t.Fatalf("discoverable %v: %v", discoverable, err)
			}
			return mark
		}
		writes := 0
		var lastMark uint32
		const n = 95
		for range n {
			v, err := s.NextCounter(c)
			if err != nil {
				t.Fatal(err)
			}
			s.reservations.Wait()
			mark := stored()
			if mark < v || mark > v+block {
				t.Fatalf("discoverable %v: value %d with stored mark %d", discoverable, v, mark)
			}
			if mark != lastMark {
				writes++
				lastMark = mark
			}
		}
		if max := n/(block/2) + 1; writes > max {
			t.Errorf("discoverable %v: the mark was written %d times for %d values, want at most %d", discoverable, writes, n, max)
		}
		mustClose(t, s)
		s = mustOpen(t, dir, Options{CounterBlock: block})
		if v, err := s.NextCounter(c); err != nil || v != lastMark+1 {
			t.Errorf("discoverable %v: first value after reopening = %d, %v; want the stored mark + 1 = %d", discoverable, v, err, lastMark+1)
		}
	}
}

// TestNothingStoredForNonDiscoverable checks that a non-discoverable
// credential lives in its ID: nothing on disk until its first counter.
func TestNothingStoredForNonDiscoverable(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	c := createCred(t, s, false, "u")
	count := func(bucket []byte) int {
		var n int
		s.db.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(bucket).Stats().KeyN
			return nil
		})
		return n
	}
	if n := count(bucketCreds) + count(bucketCounters) + count(bucketRPs) + count(bucketND); n != 0 {
		t.Errorf("%d records after creating a non-discoverable credential, want 0", n)
	}
	if _, err := s.NextCounter(c); err != nil {
		t.Fatal(err)
	}
	if n := count(bucketCounters); n != 1 {
		t.Errorf("%d counter records after the first counter, want 1", n)
	}
	if want := 1 + 24 + 16 + 4 + 1 + 8 + 1 + 1 + 1 + 32; len(c.ID) != want { // flags, no credBlob
		t.Errorf("ES256 credential ID is %d bytes, want %d", len(c.ID), want)
	}
	if got, want := s.MaxCredentialIDLength(), 1+24+16+4+1+8+1+1+keystore.MaxCredBlobLength+1+66; got != want { // ES512's blob is the longest sealed into IDs
		t.Errorf("MaxCredentialIDLength = %d, want %d", got, want)
	}
}

func TestBlobBoundToName(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if err := s.PutBlob("a", []byte("for a")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", strings.Repeat("n", maxBlobNameLen+1)} {
		if err := s.PutBlob(name, nil); err == nil {
			t.Errorf("PutBlob with a %d-byte name succeeded", len(name))
		}
	}
	mustClose(t, s)
	editDB(t, dir, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBlobs)
		return b.Put([]byte("b"), bytes.Clone(b.Get([]byte("a"))))
	})
	s = mustOpen(t, dir, Options{})
	if got, err := s.GetBlob("b"); err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetBlob of a blob copied under another name = %q, %v; want an error", got, err)
	}
	if got, err := s.GetBlob("a"); err != nil || string(got) != "for a" {
		t.Errorf("GetBlob(a) = %q, %v", got, err)
	}
}

func TestClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	c := createCred(t, s, true, "u")
	mustClose(t, s)
	mustClose(t, s) // twice is harmless
	ops := map[string]func() error{
		"Create":       func() error { _, err := s.Create(keystore.CreateRequest{Algorithm: keystore.ES256}); return err },
		"Lookup":       func() error { _, err := s.Lookup(testRP, c.ID); return err },
		"Discoverable": func() error { _, err := s.Discoverable(testRP); return err },
		"All":          func() error { _, err := s.All(); return err },
		"Delete":       func() error { return s.Delete(c.ID) },
		"UpdateUser":   func() error { return s.UpdateUser(c.ID, c.User) },
		"Sign":         func() error { _, err := s.Sign(c, nil); return err },
		"NextCounter":  func() error { _, err := s.NextCounter(c); return err },
		"GetBlob":      func() error { _, err := s.GetBlob("x"); return err },
		"PutBlob":      func() error { return s.PutBlob("x", nil) },
		"Reset":        s.Reset,
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, errClosed) {
			t.Errorf("%s after Close: %v, want errClosed", name, err)
		}
	}
}

func TestCreateValidates(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	base := keystore.CreateRequest{RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte{1}}, Algorithm: keystore.ES256, Discoverable: true}
	tests := []struct {
		name   string
		change func(r *keystore.CreateRequest)
	}{
		{"empty user ID", func(r *keystore.CreateRequest) { r.User.ID = nil }},
		{"user ID over 64 bytes", func(r *keystore.CreateRequest) { r.User.ID = make([]byte, 65) }},
		{"empty RP ID", func(r *keystore.CreateRequest) { r.RPID = "" }},
		{"huge RP ID", func(r *keystore.CreateRequest) { r.RPID = strings.Repeat("r", 1<<16) }},
		{"huge user name", func(r *keystore.CreateRequest) { r.User.Name = strings.Repeat("n", 1<<16) }},
	}
	for _, tc := range tests {
		req := base
		tc.change(&req)
		if _, err := s.Create(req); err == nil {
			t.Errorf("Create with %s succeeded", tc.name)
		}
	}
	if all, err := s.All(); err != nil || len(all) != 0 {
		t.Errorf("All after refused creates = %d credentials, %v", len(all), err)
	}
}

// TestDeleteLeavesNothing checks that deleting or replacing a discoverable
// credential leaves no record, index entry or counter behind.
func TestDeleteLeavesNothing(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	first := createCred(t, s, true, "u")
	for range 3 {
		if _, err := s.NextCounter(first); err != nil {
			t.Fatal(err)
		}
	}
	second := createCred(t, s, true, "u") // replaces first
	if _, err := s.NextCounter(second); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(second.ID); err != nil {
		t.Fatal(err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range dataBuckets {
			if n := tx.Bucket(name).Stats().KeyN; n != 0 {
				t.Errorf("bucket %s holds %d keys after the delete, want 0", name, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreatedUsesNow(t *testing.T) {
	when := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s := mustOpen(t, t.TempDir(), Options{Now: func() time.Time { return when }})
	for _, discoverable := range []bool{false, true} {
		c := createCred(t, s, discoverable, "u")
		found, err := s.Lookup(testRP, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Created.Equal(when) || !found.Created.Equal(when) {
			t.Errorf("discoverable %v: Created %v, after Lookup %v; want %v", discoverable, c.Created, found.Created, when)
		}
	}
}

// TestCounterReservationConcurrent races assertions on one credential
// against the background reservations of a tiny block: every value is
// handed out once, in order of the counter, none above a mark on disk, and
// after reopening the counter goes on above them all, at most a block on.
func TestCounterReservationConcurrent(t *testing.T) {
	const block, workers, each = 3, 8, 150
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{CounterBlock: block})
	c := createCred(t, s, true, "u")
	var mu sync.Mutex
	seen := map[uint32]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				v, err := s.NextCounter(c)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[v] {
					t.Errorf("value %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each || !seen[workers*each] {
		t.Fatalf("%d distinct values, want 1..%d", len(seen), workers*each)
	}
	mustClose(t, s)
	s = mustOpen(t, dir, Options{CounterBlock: block})
	defer mustClose(t, s)
	if v, err := s.NextCounter(c); err != nil || v <= workers*each || v > workers*each+block+1 {
		t.Errorf("first value after reopening = %d, %v; want in (%d, %d]", v, err, workers*each, workers*each+block+1)
	}
}
