package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestProfileFlag: --profile chooses what the authenticator behaves as;
// vauth info shows it unless it is the default, from the store (with the
// getInfo that profile serves, none for u2f) and from a running vauth
// (through the control API); a name it does not know is a usage error, and so is the demo (a
// CTAP2 client) on a U2F-only key.
func TestProfileFlag(t *testing.T) {
	store := t.TempDir()
	for _, tc := range []struct {
		profile  string
		shown    string // the report's profile: none for the default
		versions []string
	}{
		{"ctap2.1", "", []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"}},
		{"ctap2.0", "ctap2.0", []string{"U2F_V2", "FIDO_2_0"}},
		{"u2f", "u2f", nil},
	} {
		out, stderr, status := vauth(t, "info", "--store", store, "--keystore", "soft", "--profile", tc.profile, "--json")
		if status != exitOK {
			t.Fatalf("info --profile %s: exit %d, %s", tc.profile, status, stderr)
		}
		var r struct {
			Profile string
			GetInfo *struct{ Versions []string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		var versions []string
		if r.GetInfo != nil {
			versions = r.GetInfo.Versions
		}
		if r.Profile != tc.shown || !slices.Equal(versions, tc.versions) {
			t.Errorf("info --profile %s: profile %q, versions %v; want %v", tc.profile, r.Profile, versions, tc.versions)
		}
	}
	if _, stderr, status := vauth(t, "info", "--store", store, "--profile", "ctap2"); status != exitUsage || !regexp.MustCompile(`--profile.*ctap2\.1, ctap2\.0 or u2f`).MatchString(stderr) {
		t.Errorf("--profile ctap2: exit %d, %s", status, stderr)
	}

	if _, stderr, status := vauth(t, "demo", "--profile", "u2f"); status != exitUsage || !strings.Contains(stderr, "U2F-only") {
		t.Errorf("demo --profile u2f: exit %d, %s", status, stderr)
	}

	startDaemon(t, store, "--profile", "ctap2.0")
	out, stderr, status := vauth(t, "info", "--store", store)
	if status != exitOK || !regexp.MustCompile(`(?m)^profile +ctap2\.0$`).MatchString(out) {
		t.Errorf("info of a running vauth --profile ctap2.0: exit %d\n%s%s", status, out, stderr)
	}
}

// TestPythonFido2Profiles runs testdata/python/profile.py: python-fido2's
// client stack against `vauth run --profile ctap2.0` (a CTAP 2.0 key's
// getInfo, PIN protocol 1, the power-up pinToken, the PIN needed for every
// registration) and `--profile u2f` (no CBOR: Fido2Client falls back to
// CTAP1), every result verified by Fido2Server.
func TestPythonFido2Profiles(t *testing.T) {
	requirePython(t, "fido2")
	for _, p := range []string{"ctap2.0", "u2f"} {
		runPython(t, startDaemon(t, t.TempDir(), "--profile", p), "profile.py", p)
	}
}
