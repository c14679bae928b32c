package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/keystore"
)

var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func mustOpen(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestObserverRecords(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	var passed []ctap2.EventType
	obs := l.Observer(Source{AAGUID: "b8128e44-67f9-4fa1-824e-527d65b2e874", AttestationFormat: "packed"},
		func(e ctap2.Event) { passed = append(passed, e.Type) })
	user := keystore.User{ID: []byte{1, 2}, Name: "alice", DisplayName: "Alice"}
	events := []ctap2.Event{
		{Type: ctap2.EventRegistered, Time: t0, RPID: "example.com", User: user, CredentialID: []byte{9}, Discoverable: true, UP: true, UV: true},
		{Type: ctap2.EventAsserted, Time: t0.Add(time.Minute), RPID: "example.com", User: user, CredentialID: []byte{9}, SignCount: 1, UP: true},
		{Type: ctap2.EventDeleted, Time: t0.Add(2 * time.Minute), RPID: "example.com", User: user, CredentialID: []byte{9}},
		{Type: ctap2.EventReset, Time: t0.Add(3 * time.Minute)},
	}
	for _, e := range events {
		obs(e)
	}
	if len(passed) != len(events) {
		t.Errorf("passed on %v, want every event", passed)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log: %v, %v; want mode 0600", fi, err)
	}
	got, bad, err := Read(dir, time.Time{})
	if err != nil || bad != 0 || len(got) != len(events) {
		t.Fatalf("Read = %d records, %d bad, %v", len(got), bad, err)
	}
	reg := got[0]
	if reg.Operation != "registered" || reg.AAGUID == "" || reg.AttestationFormat != "packed" || reg.UserName != "alice" ||
		reg.UserDisplayName != "Alice" || string(reg.CredentialID) != "\x09" || !reg.UP || !reg.UV || reg.Result != ResultOK || !reg.Time.Equal(t0) {
		t.Errorf("registration record %+v", reg)
	}
	if a := got[1]; a.Operation != "asserted" || a.AAGUID != "" || a.AttestationFormat != "" || a.SignCount != 1 || a.UV {
		t.Errorf("assertion record %+v", a)
	}
	if r := got[3]; r.Operation != "reset" || r.RPID != "" {
		t.Errorf("reset record %+v", r)
	}
	since, _, _ := Read(dir, t0.Add(90*time.Second))
	if len(since) != 2 || since[0].Operation != "deleted" {
		t.Errorf("Read since 90s: %+v", since)
	}
}

// TestRotation appends far more than fits and checks that the files stay
// bounded and Read gives the newest records in order.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	const maxSize, keep = 2000, 2
	l := mustOpen(t, dir, Options{MaxSize: maxSize, Keep: keep})
	const n = 200
	for i := range n {
		if err := l.Append(Record{Time: t0.Add(time.Duration(i) * time.Second), Operation: "asserted", RPID: fmt.Sprintf("rp%03d.example", i)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != keep+1 {
		t.Errorf("%d files, want %d: %v", len(entries), keep+1, entries)
	}
	for _, e := range entries {
		if fi, _ := e.Info(); fi.Size() > maxSize {
			t.Errorf("%s has %d bytes, more than %d", e.Name(), fi.Size(), maxSize)
		}
	}
	got, _, err := Read(dir, time.Time{})
	if err != nil || len(got) == 0 || len(got) >= n {
		t.Fatalf("Read = %d records, %v", len(got), err)
	}
	if last := got[len(got)-1]; last.RPID != fmt.Sprintf("rp%03d.example", n-1) {
		t.Errorf("last record %+v", last)
	}
	if !slices.IsSortedFunc(got, func(a, b Record) int { return a.Time.Compare(b.Time) }) {
		t.Error("records out of order across the rotated files")
	}
}

func TestReadSkipsGarbage(t *testing.T) {
	dir := t.TempDir()
	content := `{"time":"2030-01-01T00:00:00Z","op":"registered","result":"ok"}
not json
{"time":"2030-01-01T00:00:01Z"}

{"time":"2030-01-01T00:00:02Z","op":"asserted","res`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, bad, err := Read(dir, time.Time{})
	if err != nil || len(got) != 1 || bad != 2 {
		t.Errorf("Read = %+v, %d bad, %v; want 1 record, 2 bad lines, the incomplete last line left for later", got, bad, err)
	}
	if got, _, err := Read(t.TempDir(), time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("Read of a store without a log = %v, %v", got, err)
	}
}

func TestRefusesOpenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("Open accepted a log readable by others")
	}
}

// TestFollow follows a log that does not exist yet, sees records appended
// one by one (a line written in two halves included), across rotations,
// and stops when the context ends.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan Record, 100)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, dir, t0.Add(time.Second), func(r Record) error { got <- r; return nil })
	}()
	next := func(want string) {
		t.Helper()
		select {
		case r := <-got:
			if r.RPID != want {
				t.Fatalf("followed %q, want %q", r.RPID, want)
			}
		case <-ctx.Done():
			t.Fatalf("nothing followed; want %q", want)
		}
	}
	l := mustOpen(t, dir, Options{MaxSize: 300, Keep: 1})
	appendRP := func(i int) {
		if err := l.Append(Record{Time: t0.Add(time.Duration(i) * time.Second), Operation: "asserted", RPID: fmt.Sprintf("rp%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	appendRP(0) // before since: not followed
	appendRP(1)
	next("rp1")
	for i := 2; i < 12; i++ { // several rotations
		appendRP(i)
		next(fmt.Sprintf("rp%d", i))
	}
	// A record written in two halves is seen once complete.
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(`{"time":"2030-03-04T05:07:00Z","op":"asserted",`)
	time.Sleep(3 * PollInterval)
	f.WriteString(`"rpId":"halves","result":"ok"}` + "\n")
	next("halves")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow = %v after the context ended, want nil", err)
	}
	stop := errors.New("enough")
	if err := Follow(context.Background(), dir, time.Time{}, func(Record) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Follow = %v, want the callback's error", err)
	}
}
