package e2e

// libfido2's tools use vauth's CTAP 2.1 extensions over uhid: hmac-secret
// (fido2-cred -h, fido2-assert -h), credProtect (fido2-cred -c) and large
// blobs (fido2-cred -b for the largeBlobKey, fido2-token -S/-G/-D -b).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fields splits fido2-cred/fido2-assert output into its lines.
func fields(out string) []string { return strings.Split(strings.TrimSuffix(out, "\n"), "\n") }

// TestFido2HMACSecret: a credential made with fido2-cred -M -h carries the
// hmac-secret extension output (fido2-cred -V -h checks it), and
// fido2-assert -G -h returns a secret that is the same for the same salt
// and different for another salt.
func TestFido2HMACSecret(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	for _, resident := range []bool{false, true} {
		name := "nondiscoverable"
		if resident {
			name = "discoverable"
		}
		t.Run(name, func(t *testing.T) {
			rpID := "hmac-" + name + ".example.org"
			args := []string{"-M", "-q", "-h"}
			if resident {
				args = append(args, "-r")
			}
			made := run(t, lines(b64(randomBytes(32)), rpID, "hmac-user", b64(randomBytes(16))), nil, tools.cred, append(args, v.hidraw, "es256")...)
			run(t, made, nil, tools.cred, "-V", "-h", "es256")
			credID := fields(made)[4]
			secret := func(salt string) string {
				t.Helper()
				in := lines(b64(randomBytes(32)), rpID)
				args := []string{"-G", "-h", "-p"}
				if resident {
					args = append(args, "-r")
				} else {
					in += lines(credID)
				}
				out := run(t, in+lines(salt), nil, tools.assert, append(args, v.hidraw)...)
				// client data hash, rp id, authenticator data, signature,
				// the user ID of a discoverable credential, hmac secret.
				f := fields(out)
				if want := 5 + map[bool]int{false: 0, true: 1}[resident]; len(f) != want {
					t.Fatalf("fido2-assert -G -h printed %d lines, want %d:\n%s", len(f), want, out)
				}
				return f[len(f)-1]
			}
			salt, other := b64(randomBytes(32)), b64(randomBytes(32))
			first := secret(salt)
			if len(first) != 44 { // 32 bytes in base64
				t.Fatalf("hmac secret %q, want 32 bytes", first)
			}
			if again := secret(salt); again != first {
				t.Errorf("the same salt gave %s, then %s", first, again)
			}
			if secret(other) == first {
				t.Error("another salt gave the same secret")
			}
		})
	}
}

// TestFido2CredProtect: fido2-cred -M -c makes credentials whose protection
// level the authenticator signs (fido2-cred -V -c checks it); without user
// verification, a level 3 credential cannot assert, and a level 2
// discoverable one only by its credential ID.
func TestFido2CredProtect(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	for _, tc := range []struct {
		level        string
		byID, byRPID bool // fido2-assert succeeds with the ID, with the RP ID alone
	}{
		{"1", true, true},
		{"2", true, false},
		{"3", false, false},
	} {
		t.Run("level "+tc.level, func(t *testing.T) {
			rpID := "credprotect-" + tc.level + ".example.org"
			made := run(t, lines(b64(randomBytes(32)), rpID, "cp-user", b64(randomBytes(16))), nil, tools.cred,
				"-M", "-q", "-r", "-c", tc.level, v.hidraw, "es256")
			run(t, made, nil, tools.cred, "-V", "-c", tc.level, "es256")
			if _, _, err := runResult(t, made, nil, tools.cred, "-V", "-c", map[string]string{"1": "2", "2": "3", "3": "1"}[tc.level], "es256"); err == nil {
				t.Error("fido2-cred -V accepted another protection level")
			}
			credID := fields(made)[4]
			_, stderr, err := runResult(t, lines(b64(randomBytes(32)), rpID, credID), nil, tools.assert, "-G", "-p", v.hidraw)
			if (err == nil) != tc.byID {
				t.Errorf("assertion by credential ID: %v (%s), want success %v", err, stderr, tc.byID)
			}
			_, stderr, err = runResult(t, lines(b64(randomBytes(32)), rpID), nil, tools.assert, "-G", "-p", "-r", v.hidraw)
			if (err == nil) != tc.byRPID {
				t.Errorf("assertion by RP ID alone: %v (%s), want success %v", err, stderr, tc.byRPID)
			}
		})
	}
}

// TestFido2LargeBlobs: a discoverable credential made with fido2-cred -b
// has a largeBlobKey; once a PIN is set, fido2-token -S -b writes a blob
// for its RP (finding the key through credential management and writing
// with an lbw token), -G -b reads it back by RP and by key, and -D -b
// deletes it.
func TestFido2LargeBlobs(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	const rpID, pin = "largeblob.example.org", "vauth-2718"
	// Made before the PIN is set, so that fido2-cred needs none.
	made := run(t, lines(b64(randomBytes(32)), rpID, "blob-user", b64(randomBytes(16))), nil, tools.cred,
		"-M", "-q", "-r", "-b", v.hidraw, "es256")
	f := fields(made)
	// With packed attestation: the certificate, then the largeBlobKey.
	if len(f) != 8 {
		t.Fatalf("fido2-cred -M -b printed %d lines, want 8 ending with the largeBlobKey:\n%s", len(f), made)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(f[7]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, lines(pin, pin), nil, tools.token, "-S", v.hidraw)

	// Random, so it does not compress: the array takes about 1100 bytes,
	// 19 CTAPHID packets, fewer than the 32 output reports that the
	// kernel's uhid queue holds (it drops the rest of a longer burst).
	blob := append([]byte("a large blob written by fido2-token\n"), randomBytes(6000)...)
	in, out, outByKey := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "out-by-key")
	if err := os.WriteFile(in, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	pins := lines(pin, pin, pin)
	run(t, pins, nil, tools.token, "-S", "-b", "-n", rpID, in, v.hidraw)
	run(t, pins, nil, tools.token, "-G", "-b", "-n", rpID, out, v.hidraw)
	run(t, pins, nil, tools.token, "-G", "-b", "-k", keyFile, outByKey, v.hidraw)
	for _, path := range []string{out, outByKey} {
		if got, err := os.ReadFile(path); err != nil || string(got) != string(blob) {
			t.Errorf("%s: read back %d bytes (%v), want the %d written", filepath.Base(path), len(got), err, len(blob))
		}
	}
	run(t, pins, nil, tools.token, "-D", "-b", "-n", rpID, v.hidraw)
	if _, stderr, err := runResult(t, pins, nil, tools.token, "-G", "-b", "-n", rpID, filepath.Join(dir, "gone"), v.hidraw); err == nil {
		t.Errorf("fido2-token -G -b after -D -b succeeded: %s", stderr)
	}
}
