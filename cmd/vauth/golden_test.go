package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// update rewrites the golden files: go test ./cmd/vauth -run TestCLI -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// cliResult is what one run of the vauth binary gave.
type cliResult struct {
	stdout, stderr string
	status         int
}

// cli runs the vauth binary with env added to the test's environment and
// stdin (no terminal), as a script would.
func cli(t *testing.T, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(vauthBin, args...)
	cmd.Env = append(append(os.Environ(), "TZ=UTC"), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return cliResult{out.String(), errOut.String(), 0}
	case errors.As(err, &ee):
		return cliResult{out.String(), errOut.String(), ee.ExitCode()}
	}
	t.Fatal(err)
	return cliResult{}
}

// ok runs vauth and fails the test unless it exits 0; it returns stdout.
func ok(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := cli(t, env, "", args...)
	if r.status != 0 {
		t.Fatalf("vauth %s: exit %d\n%s%s", strings.Join(args, " "), r.status, r.stdout, r.stderr)
	}
	return r.stdout
}

// normaliser replaces what differs between runs (credential IDs, key
// material, times, paths) by labels of the same length, so that tables
// stay aligned and golden files stay put.
type normaliser struct{ pairs []string }

// add replaces s by label, padded (or cut) to the length of s.
func (n *normaliser) add(s, label string) {
	if s == "" {
		return
	}
	if len(label) < len(s) {
		label += strings.Repeat("~", len(s)-len(label))
	}
	n.pairs = append(n.pairs, s, label[:len(s)])
}

// exact replaces s by label as it is: for what varies in length between
// runs (temporary paths).
func (n *normaliser) exact(s, label string) { n.pairs = append(n.pairs, s, label) }

// credential registers a credential ID in full and in its short form.
func (n *normaliser) credential(id, label string) {
	n.add(id, label)
	if len(id) > shortIDLen {
		n.add(id[:shortIDLen], label)
	}
}

var (
	jsonTime = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)
	textTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?`)
)

func (n *normaliser) apply(s string) string {
	// Longer strings first, so that a short ID never cuts into a full one.
	r := strings.NewReplacer(n.pairs...)
	s = r.Replace(s)
	s = jsonTime.ReplaceAllString(s, `"TIME"`)
	return textTime.ReplaceAllStringFunc(s, func(m string) string {
		return "YYYY-MM-DD hh:mm:ss"[:len(m)]
	})
}

// golden compares got, normalised, with testdata/golden/name (or writes
// it with -update).
func golden(t *testing.T, n *normaliser, name, got string) {
	t.Helper()
	got = n.apply(got)
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/vauth -run %s -update to make it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// expect fails the test with a message when cond is false.
func expect(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Errorf(format, args...)
	}
}
