package e2e

// OpenSSH's own FIDO support (ssh-keygen with its built-in security-key
// provider, which uses libfido2) against the uhid device: key generation,
// then a signature made with the key and checked against its public key.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpenSSH(t *testing.T) {
	keygen := requireTool(t, "ssh-keygen", "openssh-client")
	v := startVauth(t, t.TempDir())
	tests := []struct {
		keyType  string
		pubType  string // the public key's type in the .pub file
		resident bool
	}{
		{"ecdsa-sk", "sk-ecdsa-sha2-nistp256@openssh.com", false},
		{"ed25519-sk", "sk-ssh-ed25519@openssh.com", false},
		{"ecdsa-sk", "sk-ecdsa-sha2-nistp256@openssh.com", true},
		{"ed25519-sk", "sk-ssh-ed25519@openssh.com", true},
	}
	for _, tc := range tests {
		name := tc.keyType
		if tc.resident {
			name += "/resident"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			env := sshEnv(dir)
			key := filepath.Join(dir, "id")
			args := []string{"-q", "-t", tc.keyType, "-N", "", "-C", "e2e@vauth", "-f", key, "-O", "device=" + v.hidraw}
			if tc.resident {
				requireCredProtect(t, v.hidraw)
				// A resident key per case: the same application and
				// user would make ssh-keygen ask before overwriting.
				args = append(args, "-O", "resident", "-O", "application=ssh:vauth-"+tc.keyType)
			}
			run(t, "", env, keygen, args...)
			if pub, err := os.ReadFile(key + ".pub"); err != nil || !strings.HasPrefix(string(pub), tc.pubType+" ") {
				t.Fatalf("public key %q (%v), want type %s", pub, err, tc.pubType)
			}
			sshSignVerify(t, keygen, env, key)
		})
	}
}

// sshSignVerify signs a message with ssh-keygen -Y sign and the key, which
// asks the authenticator, and checks the signature with ssh-keygen -Y
// verify and the key's public half; a signature over another message must
// not verify.
func sshSignVerify(t *testing.T, keygen string, env []string, key string) {
	t.Helper()
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	if len(fields) < 2 {
		t.Fatalf("public key file %s.pub holds %q", key, pub)
	}
	dir := t.TempDir()
	msg := filepath.Join(dir, "message")
	if err := os.WriteFile(msg, []byte("signed by vauth over uhid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "", env, keygen, "-Y", "sign", "-f", key, "-n", "file", msg)
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("e2e@vauth "+fields[0]+" "+fields[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := []string{"-Y", "verify", "-f", allowed, "-I", "e2e@vauth", "-n", "file", "-s", msg + ".sig"}
	out := run(t, "signed by vauth over uhid\n", env, keygen, verify...)
	if want := `Good "file" signature for e2e@vauth`; !strings.Contains(out, want) {
		t.Errorf("ssh-keygen -Y verify printed %q, want %q", out, want)
	}
	if out, _, err := runResult(t, "another message\n", env, keygen, verify...); err == nil {
		t.Errorf("ssh-keygen -Y verify accepted the signature over another message: %s", out)
	}
}

// requireCredProtect fails the test unless the device's getInfo lists the
// credProtect extension, without which OpenSSH refuses to create resident
// keys (sk-usbhid: "does not support credprot, refusing to create
// unprotected resident/verify-required key").
func requireCredProtect(t *testing.T, dev string) {
	t.Helper()
	info := run(t, "", nil, requireTool(t, "fido2-token", "fido2-tools"), "-I", dev)
	if !slices.Contains(infoField(info, "extension strings"), "credProtect") {
		t.Fatalf("ssh-keygen -O resident needs the credProtect extension, which vauth's getInfo does not list:\n%s", info)
	}
}

// sshEnv is the environment for ssh-keygen: its own HOME, no agent, and
// the built-in security-key provider.
func sshEnv(home string) []string {
	return []string{"HOME=" + home, "SSH_AUTH_SOCK=", "SSH_SK_PROVIDER=internal"}
}

// TestSSHKeygenDownloadResident sets a PIN with fido2-token -S and has
// ssh-keygen -K download a resident ssh: credential through credential
// management, asking for the PIN through SSH_ASKPASS; the downloaded key
// then signs, and its public key verifies the signature.
func TestSSHKeygenDownloadResident(t *testing.T) {
	tools := requireFido2Tools(t)
	keygen := requireTool(t, "ssh-keygen", "openssh-client")
	v := startVauth(t, t.TempDir())
	const pin = "vauth-4831"
	// Made before the PIN is set, so that fido2-cred needs none.
	makeCredential(t, tools, v.hidraw, "ssh:vauth-download", "es256", true)
	run(t, lines(pin, pin), nil, tools.token, "-S", v.hidraw)
	if options := infoField(run(t, "", nil, tools.token, "-I", v.hidraw), "options"); !slices.Contains(options, "clientPin") {
		t.Fatalf("after fido2-token -S, getInfo options %v lack clientPin (a PIN is set)", options)
	}

	dir := t.TempDir()
	askpass := func(answer string) []string {
		script := filepath.Join(dir, "askpass-"+answer)
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho '"+answer+"'\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		return append(sshEnv(dir), "SSH_ASKPASS="+script, "SSH_ASKPASS_REQUIRE=force")
	}
	// -N '': the downloaded private key file gets no passphrase.
	if out, stderr, err := runIn(t, dir, "", askpass("wrong-pin"), keygen, "-K", "-N", ""); err == nil {
		t.Fatalf("ssh-keygen -K with a wrong PIN succeeded:\n%s%s", out, stderr)
	}
	if retries := infoField(run(t, "", nil, tools.token, "-I", v.hidraw), "pin retries"); !slices.Equal(retries, []string{"7"}) {
		t.Errorf("pin retries after one wrong PIN: %v, want 7", retries)
	}
	if _, stderr, err := runIn(t, dir, "", askpass(pin), keygen, "-K", "-N", ""); err != nil {
		t.Fatalf("ssh-keygen -K: %v\n%s", err, stderr)
	}
	keys, err := filepath.Glob(filepath.Join(dir, "id_ecdsa_sk_rk_vauth-download*.pub"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("ssh-keygen -K saved public keys %v (%v), want one for ssh:vauth-download", keys, err)
	}
	sshSignVerify(t, keygen, sshEnv(dir), strings.TrimSuffix(keys[0], ".pub"))
}
