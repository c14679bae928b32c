package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/mds"
)

// blobStatuses verifies a BLOB against a PEM root as go-webauthn does and
// returns each entry's status by AAGUID.
func blobStatuses(t *testing.T, blob, rootPEM string) map[string]string {
	t.Helper()
	md, err := demo.DecodeMetadata([]byte(strings.TrimSpace(blob)), []byte(rootPEM))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range md.Parsed.Entries {
		out[e.AaGUID.String()] = string(e.StatusReports[0].Status)
	}
	return out
}

func TestMetadataCommand(t *testing.T) {
	const (
		ios     = "90a3ccdf-635c-4729-a248-9b709135078f"
		yubikey = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	)
	store := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, stderr, status := vauth(t, append([]string{"metadata", "--store", store}, args...)...)
		if status != exitOK {
			t.Fatalf("vauth metadata %v: exit %d: %s", args, status, stderr)
		}
		return out
	}
	var st mds.Statement
	if err := json.Unmarshal([]byte(run("--keystore", "soft", "--aaguid", "microsoft-authenticator-ios")), &st); err != nil {
		t.Fatal(err)
	}
	if st.AAGUID != ios || !strings.Contains(st.Description, "Microsoft Authenticator (iOS)") || !strings.Contains(st.Description, "not that product") ||
		st.AttestationTypes[0] != "basic_full" || len(st.AttestationRootCertificates) != 1 || st.AuthenticatorGetInfo.AAGUID != strings.ReplaceAll(ios, "-", "") {
		t.Fatalf("statement %+v", st)
	}
	root := run("--root")
	if again := run("--root"); again != root || !strings.HasPrefix(root, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("--root %q, then %q; want one PEM certificate kept in the store", root, again)
	}
	got := blobStatuses(t, run("--blob", "--aaguid", "vauth", "--aaguid", "yubikey-5", "--status", "yubikey-5=REVOKED"), root)
	if len(got) != 2 || got[yubikey] != "REVOKED" || got["b8128e44-67f9-4fa1-824e-527d65b2e874"] != mds.DefaultStatus {
		t.Fatalf("BLOB entries %v", got)
	}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--blob", "--root"}, "choose one"},
		{[]string{"--status", "vauth=REVOKED"}, "for --blob"},
		{[]string{"--blob", "--status", "vauth=GREAT"}, "want one of"},
		{[]string{"--blob", "--status", "vauth"}, "AAGUID=STATUS"},
		{[]string{"--blob", "--aaguid", "titan-v2", "--status", "yubikey-5=REVOKED"}, "no entry"},
		{[]string{"--aaguid", "no-such-key"}, "preset"},
	} {
		if _, stderr, status := vauth(t, append([]string{"metadata", "--store", store}, tc.args...)...); status != exitUsage || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("vauth metadata %v: exit %d, %q; want usage error mentioning %q", tc.args, status, stderr, tc.stderr)
		}
	}

	// Through a running vauth: its configuration, its BLOB.
	served := t.TempDir()
	startDaemon(t, served, "--keystore", "soft", "--aaguid", "yubikey-5")
	out, stderr, status := vauth(t, "metadata", "--store", served)
	if status != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.AAGUID != yubikey {
		t.Fatalf("metadata of a running vauth: exit %d, %s\n%s", status, stderr, out)
	}
	rootOut, _, _ := vauth(t, "metadata", "--store", served, "--root")
	blob, _, _ := vauth(t, "metadata", "--store", served, "--blob")
	if got := blobStatuses(t, blob, rootOut); len(got) != 1 || got[yubikey] != mds.DefaultStatus {
		t.Fatalf("running vauth's BLOB entries %v", got)
	}
	// A status for the running vauth's own AAGUID, which the flags do not name.
	blob, stderr, _ = vauth(t, "metadata", "--store", served, "--blob", "--status", "yubikey-5=FIDO_CERTIFIED_L1")
	if got := blobStatuses(t, blob, rootOut); len(got) != 1 || got[yubikey] != "FIDO_CERTIFIED_L1" {
		t.Fatalf("running vauth's BLOB with a status: entries %v, %s", got, stderr)
	}
	if _, stderr, status := vauth(t, "metadata", "--store", served, "--blob", "--status", "vauth=REVOKED"); status != exitError || !strings.Contains(stderr, "no entry") {
		t.Fatalf("status for an AAGUID the running vauth's BLOB lacks: exit %d, %s", status, stderr)
	}
}

// vauth demo's policy mode prints one registration line per outcome.
func TestDemoPolicy(t *testing.T) {
	out, stderr, status := vauth(t, "demo", "--enforce-attestation", "--block-aaguid", "microsoft-authenticator-android")
	if status != exitOK {
		t.Fatalf("vauth demo --enforce-attestation: exit %d\n%s\n%s", status, out, stderr)
	}
	for _, want := range []string{
		`registration aaguid=b8128e44-67f9-4fa1-824e-527d65b2e874 user="alice@example.com" result=accepted`,
		`registration aaguid=de1e552d-db1d-4423-a619-566b625cdc84 user="bob@example.com" result=refused reason="aaguid on the block list"`,
		`registration aaguid=b8128e44-67f9-4fa1-824e-527d65b2e874 user="carol@example.com" result=refused reason="untrusted attestation: `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %s\n%s", want, out)
		}
	}
	if _, stderr, status := vauth(t, "demo", "--allow-aaguid", "nope"); status != exitUsage || !strings.Contains(stderr, "--allow-aaguid") {
		t.Errorf("bad --allow-aaguid: exit %d %s", status, stderr)
	}
}
