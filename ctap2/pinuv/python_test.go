package pinuv

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/testenv"
)

// The independent implementation: python-fido2 from Debian (python3-fido2),
// run by the Debian interpreter, which is where the package installs it.
const (
	python         = "/usr/bin/python3"
	platformScript = "testdata/fido2_platform.py"
)

func requirePythonFido2(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import fido2.ctap2.pin").CombinedOutput()
	testenv.Require(t, err == nil, fmt.Sprintf("python3-fido2 for %s (%v %s)", python, err, bytes.TrimSpace(out)))
}

// readHexJSON reads one line of JSON whose values are hex strings.
func readHexJSON(t *testing.T, r *bufio.Reader) map[string][]byte {
	t.Helper()
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading from python: %v", err)
	}
	var raw map[string]string
	if err := json.Unmarshal(line, &raw); err != nil {
		t.Fatalf("python printed %q: %v", line, err)
	}
	out := make(map[string][]byte, len(raw))
	for k, v := range raw {
		if out[k], err = hex.DecodeString(v); err != nil {
			t.Fatalf("python value %s=%q: %v", k, v, err)
		}
	}
	return out
}

// TestPythonKDF compares both kdfs with python-fido2's on random inputs.
func TestPythonKDF(t *testing.T) {
	requirePythonFido2(t)
	kdfs := map[int]func([]byte) []byte{ProtocolOneVersion: kdfOne, ProtocolTwoVersion: kdfTwo}
	for version, kdf := range kdfs {
		for range 3 {
			z := make([]byte, 32)
			rand.Read(z)
			out, err := exec.Command(python, platformScript, "kdf", fmt.Sprint(version), hex.EncodeToString(z)).Output()
			if err != nil {
				t.Fatalf("python kdf: %v", err)
			}
			want := readHexJSON(t, bufio.NewReader(bytes.NewReader(out)))["sharedSecret"]
			if got := kdf(z); !bytes.Equal(got, want) {
				t.Errorf("protocol %d kdf(%x) = %x, python-fido2 says %x", version, z, got, want)
			}
		}
	}
}

// TestPythonPlatform runs a PIN/UV session with python-fido2 as the platform
// and this package as the authenticator: setPIN and changePIN parameters
// from python are verified and decrypted here, and the pinUvAuthToken
// encrypted here is decrypted and used by python.
func TestPythonPlatform(t *testing.T) {
	requirePythonFido2(t)
	cases := []struct {
		pin     string
		wantErr error // from DecodeNewPIN
	}{
		{pin: "1234"},
		{pin: "pässwörd"},
		{pin: "🔑🔒🔓🗝"},
		{pin: strings.Repeat("9", MaxPINLength)},
		// python-fido2 0.9.1 sends a 64-byte PIN with no padding at all,
		// and pads a longer one to a multiple of 16 (80 bytes), as CTAP
		// 2.0 allowed; CTAP 2.1 wants exactly 64 bytes ending in 0x00.
		{pin: strings.Repeat("9", MaxPINLength+1), wantErr: ErrPINPolicyViolation},
		{pin: strings.Repeat("9", MaxPINLength+2), wantErr: ErrInvalidParameter},
	}
	for _, tc := range versions {
		for _, c := range cases {
			t.Run(fmt.Sprintf("protocol%d/%dbytes", tc.version, len(c.pin)), func(t *testing.T) {
				pythonSession(t, tc.version, c.pin, c.wantErr)
			})
		}
	}
}

func pythonSession(t *testing.T, version int, pin string, wantErr error) {
	authenticator := mustNew(t, version)
	pub := authenticator.GetPublicKey()
	message := make([]byte, 32) // a clientDataHash
	rand.Read(message)

	cmd := exec.Command(python, platformScript, "session", fmt.Sprint(version),
		hex.EncodeToString(pub.X), hex.EncodeToString(pub.Y), pin, hex.EncodeToString(message))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Errorf("python: %v\n%s", err, stderr.Bytes())
		}
	}()
	r := bufio.NewReader(stdout)

	got := readHexJSON(t, r)
	platformKey := &cose.Key{Kty: cose.KtyEC2, Alg: cose.AlgECDHESHKDF256, Crv: cose.CrvP256, X: got["x"], Y: got["y"]}
	secret, err := authenticator.Decapsulate(platformKey)
	if err != nil {
		t.Fatal(err)
	}

	newPinEnc, pinHashEnc := got["newPinEnc"], got["pinHashEnc"]
	if !authenticator.Verify(secret, newPinEnc, got["setPinParam"]) {
		t.Error("setPIN pinUvAuthParam from python-fido2 does not verify")
	}
	if !authenticator.Verify(secret, append(bytes.Clone(newPinEnc), pinHashEnc...), got["changePinParam"]) {
		t.Error("changePIN pinUvAuthParam from python-fido2 does not verify")
	}
	if authenticator.Verify(secret, pinHashEnc, got["setPinParam"]) {
		t.Error("a pinUvAuthParam verified over the wrong message")
	}

	padded, err := authenticator.Decrypt(secret, newPinEnc)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeNewPIN(padded, MinPINLength)
	switch {
	case wantErr != nil && !errors.Is(err, wantErr):
		t.Errorf("DecodeNewPIN error %v, want %v", err, wantErr)
	case wantErr == nil && (err != nil || string(decoded) != pin):
		t.Errorf("DecodeNewPIN = %q, %v; want %q", decoded, err, pin)
	}

	pinHash, err := authenticator.Decrypt(secret, pinHashEnc)
	if err != nil {
		t.Fatal(err)
	}
	if !PINHashEqual(PINHash([]byte(pin)), pinHash) {
		t.Errorf("pinHash %x from python-fido2 differs from PINHash", pinHash)
	}

	tok := NewToken(newFakeClock())
	tok.BeginUsingPinUvAuthToken(false)
	tokenEnc, err := authenticator.Encrypt(secret, tok.Value(authenticator))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(stdin, "%x\n", tokenEnc); err != nil {
		t.Fatal(err)
	}
	got = readHexJSON(t, r)
	if !bytes.Equal(got["token"], tok.Value(authenticator)) {
		t.Fatalf("python-fido2 decrypted the token to %x", got["token"])
	}
	if !tok.Verify(authenticator, message, got["param"]) {
		t.Error("pinUvAuthParam made by python-fido2 with the token does not verify")
	}
	message[0] ^= 1
	if tok.Verify(authenticator, message, got["param"]) {
		t.Error("the token's pinUvAuthParam verified over another message")
	}
}
