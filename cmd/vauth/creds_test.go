package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/crypto/ssh"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/decode"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/webauthn"
)

// population is a store filled through real ceremonies with `vauth run`:
// passkeys at two relying parties verified by go-webauthn, an OpenSSH-style
// resident key, and a non-discoverable credential, with sign-ins.
type population struct {
	store string
	n     *normaliser
	// ids are the credential IDs (base64url) by label.
	ids   map[string]string
	rp    *demo.RP
	users map[string]*demo.User
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// cableClient is a WebAuthn client for origin on the daemon's cable.
func cableClient(t *testing.T, d *daemonProc, origin string) (*webauthn.Client, *hid.Client) {
	t.Helper()
	tr, err := socket.Dial(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hid.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	return webauthn.NewClient(hc, origin), hc
}

func populate(t *testing.T) *population {
	t.Helper()
	p := &population{store: t.TempDir(), n: &normaliser{}, ids: map[string]string{}, users: map[string]*demo.User{}}
	p.n.exact(p.store, "STORE")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDaemon(t, p.store, "--keystore", "soft")
	c, hc := cableClient(t, d, demo.Origin)
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	p.rp = rp
	register := func(rp *demo.RP, c *webauthn.Client, label, name, display string, opts ...gowebauthn.RegistrationOption) {
		u := &demo.User{ID: []byte(label + "-id"), Name: name, DisplayName: display}
		cred, err := rp.Register(ctx, c, u, opts...)
		if err != nil {
			t.Fatalf("registering %s: %v\n%s", name, err, d.log)
		}
		p.ids[label] = b64url(cred.ID)
		p.n.credential(p.ids[label], "CRED-"+label)
		p.users[label] = u
	}
	resident := gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)
	direct := gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation)
	eddsa := func(o *protocol.PublicKeyCredentialCreationOptions) error {
		o.Parameters = []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -8}}
		return nil
	}
	register(rp, c, "alice", "alice@example.com", "Alice Example", resident, direct)
	register(rp, c, "bob", "bob@example.com", "Bob Example", resident, direct, eddsa)
	register(rp, c, "dave", "dave@example.com", "Dave (not discoverable)",
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged))

	other, err := demo.NewRP("other.example", "https://other.example")
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := cableClient(t, d, "https://other.example")
	register(other, oc, "carol", "carol", "Carol at Other", resident)

	// A resident OpenSSH key, made as ssh-keygen -t ecdsa-sk -O resident
	// makes it: RP ID "ssh:", straight through CTAP2.
	cdh := make([]byte, 32)
	rand.Read(cdh)
	mc, err := client.New(hc).MakeCredential(ctx, &client.MakeCredentialRequest{
		ClientDataHash: cdh, RP: client.RPEntity{ID: "ssh:"}, User: client.UserEntity{ID: []byte("openssh"), Name: "openssh"},
		PubKeyCredParams: []client.Algorithm{{Type: "public-key", Alg: -7}}, Options: map[string]bool{"rk": true},
	})
	if err != nil {
		t.Fatalf("ssh: credential: %v", err)
	}
	ad, err := decode.Decode(mc.AuthData, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.ids["ssh"] = b64url(ad.AuthenticatorData.Attested.CredentialID)
	p.n.credential(p.ids["ssh"], "CRED-ssh")

	// Sign-ins: as a passkey (which signs with alice's and bob's), then
	// alice and bob by name.
	for _, u := range []*demo.User{nil, p.users["alice"], p.users["bob"]} {
		if _, _, err := rp.Login(ctx, c, u); err != nil {
			t.Fatalf("sign-in: %v\n%s", err, d.log)
		}
	}
	d.kill(syscall.SIGTERM)
	return p
}

// TestCLI runs the inspection and management commands on a store
// populated through real ceremonies, with the daemon running (through its
// control socket) and without it (the store opened directly), and checks
// their output against golden files and against each other.
func TestCLI(t *testing.T) {
	p := populate(t)
	store := []string{"--store", p.store}
	args := func(a ...string) []string { return append(a, store...) }

	// Without a daemon: the store itself.
	list := ok(t, nil, args("creds", "list")...)
	golden(t, p.n, "creds-list.txt", list)
	listJSON := ok(t, nil, args("creds", "list", "--json")...)
	golden(t, p.n, "creds-list.json", listJSON)
	var parsed credentialList
	if err := json.Unmarshal([]byte(listJSON), &parsed); err != nil {
		t.Fatal(err)
	}
	counters := map[string]uint32{}
	for _, c := range parsed.Credentials {
		counters[c.UserName] = *c.SignCount
		expect(t, c.Created != nil && c.Backend == "soft" && c.Discoverable, "credential %+v", c)
	}
	// A clean stop writes the counters down exactly.
	// (The passkey sign-in signs with both of example.com's passkeys, as a
	// browser's account chooser gathers them with getNextAssertion.)
	expect(t, counters["alice@example.com"] == 2 && counters["bob@example.com"] == 2 && counters["carol"] == 0, "counters %v", counters)
	expect(t, !strings.Contains(list, "dave"), "a non-discoverable credential is listed:\n%s", list)

	golden(t, p.n, "creds-list-filtered.txt", ok(t, nil, args("creds", "list", "--rp", "example.com", "--user", "Bob Example")...))
	golden(t, p.n, "creds-show.txt", p.keyless(t, ok(t, nil, args("creds", "show", p.ids["alice"][:6])...), p.ids["alice"]))
	golden(t, p.n, "creds-show.json", p.keyless(t, ok(t, nil, args("creds", "show", "--json", p.ids["bob"])...), p.ids["bob"]))

	// The OpenSSH line of the ssh: key is what OpenSSH reads.
	var sshCred credential
	sshJSON := ok(t, nil, args("creds", "show", "--json", p.ids["ssh"])...)
	if err := json.Unmarshal([]byte(sshJSON), &sshCred); err != nil {
		t.Fatal(err)
	}
	pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(sshCred.PublicKey.SSH))
	if err != nil || pk.Type() != ssh.KeyAlgoSKECDSA256 || comment != "openssh" {
		t.Errorf("OpenSSH line %q: %v, %v", sshCred.PublicKey.SSH, pk, err)
	}

	info := ok(t, nil, args("info")...)
	golden(t, p.n, "info.txt", info)
	golden(t, p.n, "info.json", ok(t, nil, args("info", "--json")...))
	golden(t, p.n, "pin-status.txt", ok(t, nil, args("pin", "status")...))
	golden(t, p.n, "pin-status.json", ok(t, nil, args("pin", "status", "--json")...))

	// The audit log the daemon wrote: the registrations with their AAGUID
	// and attestation format, the sign-ins with their counters.
	golden(t, p.n, "log.txt", ok(t, nil, args("log")...))
	golden(t, p.n, "log.json", ok(t, nil, args("log", "--json")...))
	golden(t, p.n, "log-registered.txt", ok(t, nil, args("log", "--op", "registered", "--since", "1h")...))

	// With the daemon running, through its control socket: the same
	// credentials, counters and times.
	d := startDaemon(t, p.store, "--keystore", "soft")
	waitControl(t, p.store)
	daemonList := ok(t, nil, args("creds", "list")...)
	expect(t, daemonList == list, "creds list through the daemon differs:\n%s\nfrom the store's:\n%s", daemonList, list)
	golden(t, p.n, "info-daemon.txt", ok(t, nil, args("info")...))

	// Delete with the daemon running: bob is gone for the daemon, for the
	// relying party, and for the store once the daemon stops.
	out := ok(t, nil, args("creds", "delete", "--yes", p.ids["bob"][:8])...)
	golden(t, p.n, "creds-delete.txt", out)
	c, _ := cableClient(t, d, demo.Origin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := p.rp.Login(ctx, c, p.users["bob"]); err == nil {
		t.Error("bob still signs in after vauth creds delete")
	}
	if _, _, err := p.rp.Login(ctx, c, p.users["alice"]); err != nil {
		t.Errorf("alice no longer signs in after deleting bob: %v", err)
	}
	// creds show through the daemon has the public key, as the store
	// shows it once the daemon stops: text and JSON, ES256 and OpenSSH.
	shows := map[string]string{}
	for _, show := range [][]string{{"creds", "show", p.ids["alice"]}, {"creds", "show", "--json", p.ids["alice"]}, {"creds", "show", p.ids["ssh"]}} {
		shows[strings.Join(show, " ")] = ok(t, nil, args(show...)...)
	}
	d.kill(syscall.SIGTERM)
	for show, viaDaemon := range shows {
		viaStore := ok(t, nil, args(strings.Fields(show)...)...)
		expect(t, viaDaemon == viaStore, "%s through the daemon:\n%s\ndiffers from the store's:\n%s", show, viaDaemon, viaStore)
		expect(t, strings.Contains(viaDaemon, "BEGIN PUBLIC KEY"), "%s through the daemon has no public key:\n%s", show, viaDaemon)
	}
	expect(t, strings.Contains(shows["creds show "+p.ids["ssh"]], "OpenSSH            sk-ecdsa-sha2-nistp256@openssh.com "), "creds show of the ssh: key through the daemon:\n%s", shows["creds show "+p.ids["ssh"]])
	after := ok(t, nil, args("creds", "list", "--json")...)
	expect(t, !strings.Contains(after, p.ids["bob"]) && strings.Contains(after, p.ids["alice"]), "after deleting bob through the daemon:\n%s", after)

	// Delete without it: every credential of other.example.
	golden(t, p.n, "creds-delete-rp.txt", ok(t, nil, args("creds", "delete", "--rp", "other.example", "--yes")...))
	d = startDaemon(t, p.store, "--keystore", "soft")
	waitControl(t, p.store)
	after = ok(t, nil, args("creds", "list", "--json")...)
	expect(t, !strings.Contains(after, p.ids["carol"]) && strings.Contains(after, p.ids["ssh"]), "after deleting other.example directly, the daemon lists:\n%s", after)
	d.kill(syscall.SIGTERM)
	deleted := ok(t, nil, args("log", "--op", "deleted", "--json")...)
	expect(t, strings.Count(deleted, `"op":"deleted"`) == 2 && strings.Contains(deleted, p.ids["bob"]) && strings.Contains(deleted, p.ids["carol"]),
		"audit log of deletions:\n%s", deleted)

	// Rename without the daemon, then through it: each is seen by the
	// daemon's listing and by the store's once the daemon stops.
	ok(t, nil, args("creds", "rename", p.ids["alice"], "--display-name", "Alice Renamed")...)
	shown := ok(t, nil, args("creds", "show", p.ids["alice"])...)
	expect(t, strings.Contains(shown, "Alice Renamed") && strings.Contains(shown, "alice@example.com"), "after rename:\n%s", shown)
	d = startDaemon(t, p.store, "--keystore", "soft")
	waitControl(t, p.store)
	out = ok(t, nil, args("creds", "rename", p.ids["alice"][:8], "--name", "alice@renamed.example")...)
	expect(t, strings.Contains(out, "renamed "+p.ids["alice"]+": alice@renamed.example (Alice Renamed)"), "creds rename through the daemon said:\n%s", out)
	for _, when := range []string{"through the daemon", "after the daemon stopped"} {
		var renamed credentialList
		if err := json.Unmarshal([]byte(ok(t, nil, args("creds", "list", "--json", "--rp", "example.com")...)), &renamed); err != nil || len(renamed.Credentials) != 1 {
			t.Fatalf("creds list %s: %+v, %v", when, renamed, err)
		}
		c := renamed.Credentials[0]
		expect(t, c.ID.String() == p.ids["alice"] && c.UserName == "alice@renamed.example" && c.UserDisplayName == "Alice Renamed" && string(c.UserID) == "alice-id",
			"creds list %s after the rename: %+v", when, c)
		d.kill(syscall.SIGTERM)
	}

	// decode reads what the relying party received.
	out = ok(t, nil, "decode", p.registrationFile(t))
	expect(t, strings.Contains(out, "format             packed") && strings.Contains(out, "verified           yes (basic_full)"), "vauth decode of a registration:\n%s", out)
}

// registrationFile writes a registration response the daemon made (a new
// one, at a fresh store) and returns its path.
func (p *population) registrationFile(t *testing.T) string {
	t.Helper()
	d := startDaemon(t, t.TempDir(), "--keystore", "soft")
	c, _ := cableClient(t, d, demo.Origin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Create(ctx, &webauthn.CreationOptions{
		RP: webauthn.RPEntity{ID: demo.RPID, Name: "Example"}, User: webauthn.UserEntity{ID: []byte("u"), Name: "u", DisplayName: "U"},
		Challenge: []byte("0123456789abcdef"), Attestation: "direct",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registration.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyless replaces the key material of credential id in out by labels.
func (p *population) keyless(t *testing.T, out, id string) string {
	t.Helper()
	var c credential
	if err := json.Unmarshal([]byte(ok(t, nil, "creds", "show", "--json", id, "--store", p.store)), &c); err != nil {
		t.Fatal(err)
	}
	k := c.PublicKey
	n := &normaliser{}
	n.add(b64url(k.COSE), "COSE")
	for i, line := range strings.Split(strings.TrimSpace(k.PEM), "\n") {
		if !strings.HasPrefix(line, "-----") {
			n.add(line, fmt.Sprintf("PEM-line-%d", i))
		}
	}
	for _, m := range []string{"x", "y"} {
		n.add(k.JWK[m], "JWK-"+m)
	}
	if cose := strings.Fields(out); len(cose) > 0 {
		for i, f := range cose {
			if f == "COSE" && i+1 < len(cose) {
				n.add(cose[i+1], "COSE-hex")
			}
		}
	}
	return n.apply(out)
}

// waitControl waits until the daemon's control socket answers.
func waitControl(t *testing.T, store string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := control.Dial(store); err == nil {
			if _, err := c.Info(context.Background()); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the control socket does not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
