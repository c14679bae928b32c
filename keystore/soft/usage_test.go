package soft

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// TestUsage follows one credential's counter and last use through
// assertions, a clean close, a block reservation read from the disk as a
// crash would leave it, deletion and reset.
func TestUsage(t *testing.T) {
	const block = 4
	clock := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	now := func() time.Time { return clock }
	for _, discoverable := range []bool{true, false} {
		dir := t.TempDir()
		opts := Options{CounterBlock: block, Now: now}
		s := mustOpen(t, dir, opts)
		c := createCred(t, s, discoverable, "u")
		check := func(when string, wantCounter uint32, wantUsed time.Time) {
			t.Helper()
			counter, used, err := s.Usage(c.ID)
			if err != nil || counter != wantCounter || !used.Equal(wantUsed) {
				t.Fatalf("discoverable %v, %s: Usage = %d, %v, %v; want %d, %v", discoverable, when, counter, used, err, wantCounter, wantUsed)
			}
		}
		check("new", 0, time.Time{})
		for i := range 3 {
			clock = clock.Add(time.Minute)
			if v, err := s.NextCounter(c); err != nil || v != uint32(i+1) {
				t.Fatalf("NextCounter = %d, %v", v, err)
			}
		}
		check("after three assertions", 3, clock)

		// A clean close writes the last use down.
		mustClose(t, s)
		s = mustOpen(t, dir, opts)
		check("after reopening", 3, clock)

		// The next assertion reserves a block (the counter resumes from the
		// stored mark), and the reservation records the use with it, as a
		// crash right after it would leave the disk.
		clock = clock.Add(time.Hour)
		v, err := s.NextCounter(c)
		if err != nil {
			t.Fatal(err)
		}
		var onDisk usage
		if err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			onDisk, err = parseUsage(tx.Bucket(bucketUsage).Get(c.ID))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if onDisk.counter != v || !onDisk.lastUsed.Equal(clock) {
			t.Errorf("discoverable %v: usage on disk after a reservation = %+v, want counter %d at %v", discoverable, onDisk, v, clock)
		}
		check("after the reservation", v, clock)

		if discoverable {
			if err := s.Delete(c.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Usage(c.ID); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Usage of a deleted credential: %v, want ErrNotFound", err)
			}
			mustClose(t, s) // flushes nothing for the deleted credential
			s = mustOpen(t, dir, opts)
			if _, _, err := s.Usage(c.ID); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Usage of a deleted credential after reopening: %v, want ErrNotFound", err)
			}
		}
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := s.db.View(func(tx *bolt.Tx) error {
			if n := tx.Bucket(bucketUsage).Stats().KeyN; n != 0 {
				t.Errorf("discoverable %v: %d usage records after Reset", discoverable, n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUsageMalformed(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	c := createCred(t, s, true, "u")
	if _, err := s.NextCounter(c); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	editDB(t, dir, func(tx *bolt.Tx) error { return tx.Bucket(bucketUsage).Put(c.ID, []byte{usageV1, 1}) })
	s = mustOpen(t, dir, Options{})
	if _, _, err := s.Usage(c.ID); err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Usage with a truncated record: %v, want a malformed-record error", err)
	}
	for _, id := range [][]byte{nil, make([]byte, s.readIDLen+1)} {
		if _, _, err := s.Usage(id); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Usage of a %d-byte ID: %v, want ErrNotFound", len(id), err)
		}
	}
}

// TestUsageImported checks that an imported credential reports the counter
// it was imported with, and no use, until it signs.
func TestUsageImported(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Import(keystore.ImportRequest{
		RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte("u")}, PrivateKey: key, Discoverable: true, SignCount: 41,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, used, err := s.Usage(c.ID); err != nil || n != 41 || !used.IsZero() {
		t.Errorf("Usage of an imported credential = %d, %v, %v; want 41 and never used", n, used, err)
	}
	if _, err := s.NextCounter(c); err != nil {
		t.Fatal(err)
	}
	if n, used, err := s.Usage(c.ID); err != nil || n != 42 || used.IsZero() {
		t.Errorf("Usage after its first assertion = %d, %v, %v; want 42 and a use", n, used, err)
	}
}

// TestUsageWrittenHourly checks that a counter far from its next block
// still writes its last use down once the use on disk is usageLag behind,
// and not more often, for a credential created here and one reopened.
func TestUsageWrittenHourly(t *testing.T) {
	clock := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	opts := Options{CounterBlock: 1000, Now: func() time.Time { return clock }}
	dir := t.TempDir()
	s := mustOpen(t, dir, opts)
	c := createCred(t, s, true, "u")
	onDisk := func() usage {
		t.Helper()
		s.reservations.Wait()
		var u usage
		if err := s.db.View(func(tx *bolt.Tx) error {
			if val := tx.Bucket(bucketUsage).Get(c.ID); val != nil {
				var err error
				u, err = parseUsage(val)
				return err
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	use := func(after time.Duration) uint32 {
		t.Helper()
		clock = clock.Add(after)
		v, err := s.NextCounter(c)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	use(time.Minute)
	if u := onDisk(); !u.lastUsed.IsZero() {
		t.Errorf("a use a minute after creation was written down at once: %+v", u)
	}
	v := use(usageLag)
	if u := onDisk(); u.counter != v || !u.lastUsed.Equal(clock) {
		t.Errorf("usage on disk after a use %v past creation = %+v, want counter %d at %v", usageLag, u, v, clock)
	}
	written := clock
	use(usageLag - time.Minute)
	if u := onDisk(); !u.lastUsed.Equal(written) {
		t.Errorf("a use within %v of the last one written was written too: %+v", usageLag, u)
	}

	// After reopening, the first use passes the stored mark, and the
	// block it reserves writes it down; the next comes an hour on.
	mustClose(t, s)
	s = mustOpen(t, dir, opts)
	v = use(time.Minute)
	if u := onDisk(); u.counter != v || !u.lastUsed.Equal(clock) {
		t.Errorf("after reopening, usage on disk = %+v, want counter %d at %v", u, v, clock)
	}
	written = clock
	use(usageLag - time.Second)
	if u := onDisk(); !u.lastUsed.Equal(written) {
		t.Errorf("after reopening, a use within %v of the last one written was written too: %+v", usageLag, u)
	}
	v = use(time.Second)
	if u := onDisk(); u.counter != v || !u.lastUsed.Equal(clock) {
		t.Errorf("after reopening, usage on disk %v on = %+v, want counter %d at %v", usageLag, u, v, clock)
	}
	mustClose(t, s)
}
