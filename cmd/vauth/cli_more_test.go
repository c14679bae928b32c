package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/demo"
)

// demoStore makes a store with one passkey (alice@example.com), as `vauth
// demo` registers it, and returns it with the credential's ID.
func demoStore(t *testing.T) (string, string) {
	t.Helper()
	store := t.TempDir()
	ok(t, nil, "demo", "--store", store, "--keystore", "soft")
	var list credentialList
	if err := json.Unmarshal([]byte(ok(t, nil, "creds", "list", "--json", "--store", store)), &list); err != nil || len(list.Credentials) != 1 {
		t.Fatalf("creds list after vauth demo: %+v, %v", list, err)
	}
	return store, list.Credentials[0].ID.String()
}

// TestCLIExitStatuses checks the documented exit statuses of the
// management commands and that each says why on stderr.
func TestCLIExitStatuses(t *testing.T) {
	store, id := demoStore(t)
	s := []string{"--store", store}
	pin := []string{"VAUTH_PIN=123456"}
	ok(t, pin, append([]string{"pin", "set"}, s...)...)
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("not a WebAuthn object at all"), 0o600)
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		status int
		stderr string
	}{
		{"unknown credential", nil, []string{"creds", "show", "ZZZZZZZZ"}, exitNotFound, "no credential"},
		{"delete unknown credential", nil, []string{"creds", "delete", "--yes", "ZZZZZZZZ"}, exitNotFound, "no credential"},
		{"delete an RP without credentials", nil, []string{"creds", "delete", "--yes", "--rp", "nowhere.example"}, exitNotFound, "no credentials for RP"},
		{"too short an ID", nil, []string{"creds", "show", id[:2]}, exitUsage, "at least 4"},
		{"delete what", nil, []string{"creds", "delete"}, exitUsage, "one credential ID or --rp"},
		{"delete without confirmation", nil, []string{"creds", "delete", id}, exitUsage, "--yes"},
		{"rename to nothing", nil, []string{"creds", "rename", id}, exitUsage, "--name"},
		{"no PIN to give", nil, []string{"pin", "change"}, exitPIN, "a PIN is needed"},
		{"wrong PIN", []string{"VAUTH_PIN=000000", "VAUTH_NEW_PIN=654321"}, []string{"pin", "change"}, exitPIN, "wrong PIN: 7 attempts left"},
		{"PIN set twice", pin, []string{"pin", "set"}, exitUsage, "already set"},
		{"PIN too short", []string{"VAUTH_PIN=123456", "VAUTH_NEW_PIN=1"}, []string{"pin", "change"}, exitUsage, "rules"},
		{"bad --since", nil, []string{"log", "--since", "last tuesday"}, exitUsage, "--since"},
		{"reset without confirmation", nil, []string{"reset"}, exitUsage, "--yes"},
		{"decode garbage", nil, []string{"decode", garbage}, exitError, "neither"},
		{"no such device", nil, []string{"creds", "list", "--device", "unix:" + filepath.Join(t.TempDir(), "none")}, exitError, "--device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, "", append(tc.args, s...)...)
			if r.status != tc.status || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.status, r.stderr, tc.status, tc.stderr)
			}
		})
	}
	// Nothing above changed the store.
	if out := ok(t, nil, "creds", "list", "--json", "--store", store); !strings.Contains(out, id) {
		t.Errorf("the credential is gone:\n%s", out)
	}
	if r := cli(t, nil, "", "creds", "list", "--store", filepath.Join(t.TempDir(), "none")); r.status != exitError || !strings.Contains(r.stderr, "no store") {
		t.Errorf("creds list of a missing store: exit %d, %q", r.status, r.stderr)
	}

	// A store held by a daemon whose control socket does not answer.
	startDaemon(t, store, "--keystore", "soft")
	waitControl(t, store)
	if err := os.Remove(filepath.Join(store, control.SocketName)); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, nil, "", "creds", "list", "--store", store); r.status != exitInUse || !strings.Contains(r.stderr, "in use") || !strings.Contains(r.stderr, "--device") {
		t.Errorf("creds list of a store in use: exit %d, %q", r.status, r.stderr)
	}
}

// TestCLIDevice manages vauth as any security key is managed, over CTAP2
// on its virtual cable (--device unix:PATH): what credential management
// lists is what the store holds; rename and delete go through it; reset
// erases.
func TestCLIDevice(t *testing.T) {
	store, id := demoStore(t)
	d := startDaemon(t, store, "--keystore", "soft")
	waitControl(t, store)
	dev := []string{"--device", "unix:" + d.socket}
	pin := []string{"VAUTH_PIN=123456"}

	// Without a PIN, credential management cannot be used.
	if r := cli(t, nil, "", append([]string{"creds", "list"}, dev...)...); r.status != exitPIN || !strings.Contains(r.stderr, "pin set") {
		t.Errorf("creds list --device without a PIN: exit %d, %q", r.status, r.stderr)
	}
	ok(t, pin, append([]string{"pin", "set"}, dev...)...)
	st := ok(t, nil, append([]string{"pin", "status", "--json"}, dev...)...)
	if !strings.Contains(st, `"set": true`) || !strings.Contains(st, `"retries": 8`) {
		t.Errorf("pin status --device: %s", st)
	}

	var viaDevice, viaStore credentialList
	json.Unmarshal([]byte(ok(t, pin, append([]string{"creds", "list", "--json"}, dev...)...)), &viaDevice)
	json.Unmarshal([]byte(ok(t, nil, "creds", "list", "--json", "--store", store)), &viaStore)
	if len(viaDevice.Credentials) != 1 || len(viaStore.Credentials) != 1 {
		t.Fatalf("device lists %+v, store %+v", viaDevice, viaStore)
	}
	dc, sc := viaDevice.Credentials[0], viaStore.Credentials[0]
	if dc.ID.String() != id || dc.RPID != sc.RPID || dc.UserName != sc.UserName || dc.UserDisplayName != sc.UserDisplayName ||
		dc.UserID.String() != sc.UserID.String() || dc.Algorithm != sc.Algorithm || dc.Backend != "device" || dc.Created != nil {
		t.Errorf("over CTAP2: %+v\nin the store: %+v", dc, sc)
	}
	shown := ok(t, pin, append([]string{"creds", "show", id}, dev...)...)
	if !strings.Contains(shown, "BEGIN PUBLIC KEY") {
		t.Errorf("creds show --device:\n%s", shown)
	}
	info := ok(t, pin, append([]string{"info"}, dev...)...)
	if !strings.Contains(info, "1 discoverable credential, for 1 relying party") || !strings.Contains(info, "credMgmt=true") {
		t.Errorf("info --device:\n%s", info)
	}

	// A wrong PIN says how many attempts are left.
	if r := cli(t, []string{"VAUTH_PIN=999999"}, "", append([]string{"creds", "list"}, dev...)...); r.status != exitPIN || !strings.Contains(r.stderr, "7 attempts left") {
		t.Errorf("wrong PIN: exit %d, %q", r.status, r.stderr)
	}

	// A forced PIN change: the key would answer even the right PIN with
	// CTAP2_ERR_PIN_INVALID, so the CLI says what to do instead.
	ok(t, nil, "--store", store, "ctl", "pin", "set", "--force-change")
	if r := cli(t, pin, "", append([]string{"creds", "list"}, dev...)...); r.status != exitPIN || !strings.Contains(r.stderr, "vauth pin change") {
		t.Errorf("creds list under forcePINChange: exit %d, %q", r.status, r.stderr)
	}
	ok(t, []string{"VAUTH_PIN=123456", "VAUTH_NEW_PIN=246810"}, append([]string{"pin", "change"}, dev...)...)
	pin = []string{"VAUTH_PIN=246810"}

	ok(t, pin, append([]string{"creds", "rename", id, "--name", "alice@renamed.example"}, dev...)...)
	if out := ok(t, nil, "creds", "list", "--store", store); !strings.Contains(out, "alice@renamed.example") {
		t.Errorf("after rename --device, the store lists:\n%s", out)
	}
	ok(t, pin, append([]string{"creds", "delete", "--yes", id}, dev...)...)
	if out := ok(t, nil, "creds", "list", "--store", store); !strings.Contains(out, "no discoverable credentials") {
		t.Errorf("after delete --device, the store lists:\n%s", out)
	}

	// Reset, within the 10 seconds after (re)starting the daemon.
	d.kill(syscall.SIGTERM)
	d = startDaemon(t, store, "--keystore", "soft")
	out := cli(t, nil, "", "reset", "--yes", "--device", "unix:"+d.socket)
	if out.status != 0 || !strings.Contains(out.stderr, "erases") {
		t.Fatalf("reset --device: exit %d\n%s%s", out.status, out.stdout, out.stderr)
	}
	if st := ok(t, nil, "pin", "status", "--device", "unix:"+d.socket); !strings.Contains(st, "not set") {
		t.Errorf("after reset the PIN is still set:\n%s", st)
	}
}

// TestCLIDaemonPIN changes the PIN through a running vauth as over CTAP:
// a wrong current PIN costs a retry and says how many are left, the new PIN
// follows the rules; afterwards the old PIN fails and the new one works,
// over CTAP2 and in the store once the daemon stops.
func TestCLIDaemonPIN(t *testing.T) {
	store, _ := demoStore(t)
	d := startDaemon(t, store, "--keystore", "soft")
	waitControl(t, store)
	s := []string{"--store", store}
	ok(t, []string{"VAUTH_PIN=123456"}, append([]string{"pin", "set"}, s...)...)
	for _, tc := range []struct {
		name            string
		current, newPIN string
		status          int
		stderr          string
	}{
		{"wrong current PIN", "000000", "654321", exitPIN, "wrong PIN: 7 attempts left"},
		{"new PIN too short", "123456", "1", exitUsage, "rules"},
		{"right current PIN", "123456", "654321", 0, "PIN changed on the running vauth on " + store},
		{"the old PIN again", "123456", "111111", exitPIN, "wrong PIN: 7 attempts left"},
	} {
		r := cli(t, []string{"VAUTH_PIN=" + tc.current, "VAUTH_NEW_PIN=" + tc.newPIN}, "", append([]string{"pin", "change"}, s...)...)
		if r.status != tc.status || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", tc.name, r.status, r.stderr, tc.status, tc.stderr)
		}
	}
	if st := ok(t, nil, append([]string{"pin", "status", "--json"}, s...)...); !strings.Contains(st, `"retries": 7`) {
		t.Errorf("pin status through the daemon after a wrong PIN:\n%s", st)
	}
	// Over CTAP2 on the daemon's cable: the old PIN fails, the new works.
	dev := []string{"creds", "list", "--device", "unix:" + d.socket}
	if r := cli(t, []string{"VAUTH_PIN=123456"}, "", dev...); r.status != exitPIN || !strings.Contains(r.stderr, "wrong PIN") {
		t.Errorf("the old PIN over CTAP2: exit %d, %q", r.status, r.stderr)
	}
	if out := ok(t, []string{"VAUTH_PIN=654321"}, dev...); !strings.Contains(out, "alice@example.com") {
		t.Errorf("creds list with the new PIN over CTAP2:\n%s", out)
	}
	// The store keeps it: changed back directly with the new PIN.
	d.kill(syscall.SIGTERM)
	ok(t, []string{"VAUTH_PIN=654321", "VAUTH_NEW_PIN=123456"}, append([]string{"pin", "change"}, s...)...)
}

// TestCLIReset resets a store directly: it says what is lost, erases it,
// and the audit log keeps the record.
func TestCLIReset(t *testing.T) {
	store, _ := demoStore(t)
	ok(t, []string{"VAUTH_PIN=123456"}, "pin", "set", "--store", store)
	r := cli(t, nil, "", "reset", "--yes", "--store", store)
	n := &normaliser{}
	n.exact(store, "STORE")
	if r.status != 0 {
		t.Fatalf("reset: exit %d\n%s", r.status, r.stderr)
	}
	golden(t, n, "reset.txt", r.stderr+r.stdout)
	if out := ok(t, nil, "creds", "list", "--store", store); !strings.Contains(out, "no discoverable credentials") {
		t.Errorf("after reset:\n%s", out)
	}
	if out := ok(t, nil, "pin", "status", "--store", store); !strings.Contains(out, "not set") {
		t.Errorf("after reset:\n%s", out)
	}
	if out := ok(t, nil, "log", "--op", "reset", "--store", store); !strings.Contains(out, "reset ") {
		t.Errorf("the audit log has no reset:\n%s", out)
	}
}

// TestCLIDecode decodes the published WebAuthn test vectors in the forms a
// relying party meets them (testdata/decode/SOURCE.md names the source).
func TestCLIDecode(t *testing.T) {
	dir := filepath.Join("testdata", "decode")
	in := func(name string) string { return filepath.Join(dir, name) }
	n := &normaliser{}
	for _, tc := range []struct {
		golden string
		args   []string
		status int
	}{
		{"decode-packed-registration.txt", []string{in("packed-es256-registration.json")}, 0},
		{"decode-packed-registration.json", []string{"--json", in("packed-es256-registration.json")}, 0},
		{"decode-packed-assertion.txt", []string{in("packed-es256-assertion.json"), "--public-key", in("packed-es256-registration.json")}, 0},
		{"decode-packed-assertion-unchecked.txt", []string{in("packed-es256-assertion.json")}, 0},
		{"decode-none-attestation-object.txt", []string{in("none-es256-attestation-object.hex")}, 0},
		{"decode-cose-key.txt", []string{in("none-es256-assertion-key.cose.b64")}, 0},
		{"decode-fido-u2f.txt", []string{in("fido-u2f-attestation-object.b64"), "--client-data", in("fido-u2f-client-data.json")}, 0},
		{"decode-tpm-untrusted.txt", []string{in("tpm-es256-registration.json")}, exitError},
		{"decode-wrong-key.txt", []string{in("packed-es256-assertion.json"), "--public-key", in("none-es256-assertion-key.cose.b64")}, exitError},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"decode"}, tc.args...)...)
			if r.status != tc.status {
				t.Fatalf("exit %d, want %d\n%s%s", r.status, tc.status, r.stdout, r.stderr)
			}
			golden(t, n, tc.golden, r.stdout+r.stderr)
		})
	}
	// stdin, in base64.
	data, _ := os.ReadFile(in("fido-u2f-attestation-object.b64"))
	if r := cli(t, nil, string(data), "decode", "-"); r.status != 0 || !strings.Contains(r.stdout, "attestationObject (base64)") {
		t.Errorf("decode from stdin: exit %d\n%s%s", r.status, r.stdout, r.stderr)
	}
}

// TestCompletionAndMan checks that the shells' completion scripts come
// out (bash's is valid bash) and that the man pages cover the command
// tree.
func TestCompletionAndMan(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out := ok(t, nil, "completion", sh)
		if !strings.Contains(out, "vauth") || len(out) < 1000 {
			t.Errorf("completion %s: %d bytes", sh, len(out))
		}
		if sh == "bash" {
			if path, err := exec.LookPath("bash"); err == nil {
				script := filepath.Join(t.TempDir(), "vauth.bash")
				os.WriteFile(script, []byte(out), 0o600)
				if out, err := exec.Command(path, "-n", script).CombinedOutput(); err != nil {
					t.Errorf("bash -n on the completion script: %v\n%s", err, out)
				}
			}
		}
	}
	dir := t.TempDir()
	ok(t, nil, "man", dir)
	for _, page := range []string{"vauth.1", "vauth-creds-list.1", "vauth-creds-delete.1", "vauth-pin-change.1", "vauth-decode.1", "vauth-log.1", "vauth-reset.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || !strings.Contains(string(b), ".TH \"VAUTH") {
			t.Errorf("man page %s: %v\n%.200s", page, err, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "vauth-man.1")); err == nil {
		t.Error("the hidden man command has a man page")
	}
}

// TestLogFollow follows the audit log while `vauth run` registers a
// passkey, and stops cleanly on SIGTERM.
func TestLogFollow(t *testing.T) {
	store := t.TempDir()
	d := startDaemon(t, store, "--keystore", "soft")
	follow := exec.Command(vauthBin, "log", "--follow", "--json", "--store", store)
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cableClient(t, d, demo.Origin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := rp.Register(ctx, c, &demo.User{ID: []byte("f"), Name: "followed"}); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-lines:
		if !strings.Contains(line, `"op":"registered"`) || !strings.Contains(line, `"userName":"followed"`) {
			t.Errorf("followed %s", line)
		}
	case <-ctx.Done():
		t.Fatal("vauth log --follow printed nothing")
	}
	follow.Process.Signal(syscall.SIGTERM)
	if err := follow.Wait(); err != nil {
		t.Errorf("vauth log --follow after SIGTERM: %v", err)
	}
}
