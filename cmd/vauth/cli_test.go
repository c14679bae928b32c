package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore"
)

// vauth runs the binary and returns stdout, stderr and the exit status.
func vauth(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(vauthBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	}
	t.Fatal(err)
	return "", "", -1
}

func TestExitStatuses(t *testing.T) {
	store := t.TempDir()
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"version"}, exitOK, ""},
		{[]string{"run", "--store", store, "--transport", "bluetooth"}, exitUsage, "want uhid or unix:PATH"},
		{[]string{"run", "--store", store, "--transport", "unix:"}, exitUsage, "want uhid or unix:PATH"},
		{[]string{"run", "--store", store, "--presence", "maybe", "--transport", "unix:" + filepath.Join(store, "s")}, exitUsage, "maybe"},
		{[]string{"info", "--store", store, "--aaguid", "not-a-uuid"}, exitUsage, "--aaguid"},
		{[]string{"info", "--store", store, "--attestation", "fancy"}, exitError, "none, self, packed"},
		{[]string{"run", "--no-such-flag"}, exitUsage, "unknown flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, status := vauth(t, tc.args...)
			if status != tc.status || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", status, stderr, tc.status, tc.stderr)
			}
		})
	}
}

// A second daemon on a store that is in use must refuse at once and say why.
func TestSecondDaemonOnOneStore(t *testing.T) {
	store := t.TempDir()
	startDaemon(t, store)
	_, stderr, status := vauth(t, "run", "--store", store, "--transport", "unix:"+filepath.Join(t.TempDir(), "s"), "--presence", "always")
	if status != exitError || !strings.Contains(stderr, "in use") {
		t.Fatalf("second vauth run: exit %d, stderr %q", status, stderr)
	}
}

func TestInfo(t *testing.T) {
	store := t.TempDir()
	aaguid := "0b5e4c1d-9e2a-4f6b-8a3d-2c7e1f9a6b45"
	out, stderr, status := vauth(t, "info", "--store", store, "--keystore", "soft", "--aaguid", aaguid, "--json")
	if status != 0 {
		t.Fatalf("vauth info: %d %s", status, stderr)
	}
	var r struct {
		Store, Keystore, AAGUID string
		GetInfo                 struct {
			Versions   []string
			Algorithms []struct{ Alg int }
			Options    map[string]bool
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("info --json: %v\n%s", err, out)
	}
	if r.Store != store || r.Keystore != "soft" || r.AAGUID != aaguid || !r.GetInfo.Options["rk"] || len(r.GetInfo.Algorithms) != len(keystore.Preferred()) {
		t.Fatalf("info --json = %+v", r)
	}
	out, _, status = vauth(t, "info", "--store", store)
	if status != 0 || !strings.Contains(out, attestation.FormatAAGUID(attestation.DefaultAAGUID)) || !strings.Contains(out, "ES256, EdDSA, ES384, ES512, RS256, PS256, ES256K") {
		t.Fatalf("vauth info:\n%s", out)
	}
}

func TestDemo(t *testing.T) {
	out, stderr, status := vauth(t, "demo")
	if status != 0 || !strings.Contains(out, "All ceremonies verified.") {
		t.Fatalf("vauth demo: exit %d\n%s\n%s", status, out, stderr)
	}
}
