package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/mds"
	"github.com/vauth/vauth/internal/presence"
)

// RunPolicy plays an Entra ID passkey policy end to end at a go-webauthn
// relying party: d registers, then a key whose AAGUID the key
// restrictions refuse, then a key with d's AAGUID whose attestation chains
// to a CA the metadata does not name; each prints its registration log
// line. The relying party trusts d's metadata BLOB (internal/mds) listing
// d's AAGUID and the refused one. Without key restrictions the policy
// allows d's AAGUID only. The other two keys live in temporary soft stores.
func RunPolicy(ctx context.Context, out io.Writer, d *daemon.Daemon, p Policy) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := p.Normalize(); err != nil {
		return err
	}
	st, err := mds.ForDaemon(ctx, d)
	if err != nil {
		return err
	}
	own := st.AAGUID
	if len(p.Allow) == 0 && len(p.Block) == 0 {
		p.Allow = []string{own}
	}
	other, err := refusedAAGUID(&p)
	if err != nil {
		return err
	}
	otherAAGUID, _ := attestation.ParseAAGUID(other)
	ownAAGUID, _ := attestation.ParseAAGUID(own)

	blob, err := mds.BLOB(ctx, d, mds.Settings{AAGUIDs: []string{own, other}}, time.Now())
	if err != nil {
		return err
	}
	root, err := mds.Root(d.Keystore)
	if err != nil {
		return err
	}
	provider, err := LoadMetadata(blob, root.PEM())
	if err != nil {
		return err
	}
	rp, err := NewRP(RPID, Origin)
	if err != nil {
		return err
	}
	rp.Policy = &p
	rp.Metadata = func(context.Context) (metadata.Provider, error) { return provider, nil }

	fmt.Fprintf(out, "vauth demo: passkey policy at relying party %q (go-webauthn), origin %s\n", RPID, Origin)
	setting := func(k, v string) { fmt.Fprintf(out, "   %-20s %s\n", k, v) }
	setting("enforce attestation", yesNo(p.EnforceAttestation)+fmt.Sprintf(" (trusting vauth's metadata BLOB: %s and %s, root %q)", own, other, root.Certificate().Subject.CommonName))
	setting("allow AAGUIDs", list(p.Allow))
	setting("block AAGUIDs", list(p.Block))

	steps := []struct {
		title, user string
		aaguid      [16]byte
		d           *daemon.Daemon // nil: a new key in a temporary store
	}{
		{"this authenticator (AAGUID " + own + ", " + d.Attestation + " attestation)", "alice@example.com", ownAAGUID, d},
		{"a key whose AAGUID the key restrictions refuse (AAGUID " + other + ")", "bob@example.com", otherAAGUID, nil},
		{"a key with AAGUID " + own + " whose attestation chains to a CA the metadata does not name", "carol@example.com", ownAAGUID, nil},
	}
	for i, s := range steps {
		fmt.Fprintf(out, "\n%d. Registration by %s\n", i+1, s.title)
		key, done := s.d, func() {}
		if key == nil {
			if key, done, err = tempKey(s.aaguid); err != nil {
				return err
			}
		}
		err := registerOnce(ctx, rp, key, s.user)
		done()
		LogRegistration(out, s.user, attestation.FormatAAGUID(s.aaguid), err)
	}
	fmt.Fprintln(out, "\nEach registration logged one line: grep 'registration aaguid=' to follow them by AAGUID.")
	return nil
}

// registerOnce registers a passkey for a new user with key.
func registerOnce(ctx context.Context, rp *RP, key *daemon.Daemon, name string) error {
	ctx, cancel := context.WithCancel(ctx) // stops serving key
	defer cancel()
	c, err := Connect(ctx, key, Origin)
	if err != nil {
		return err
	}
	u := &User{ID: make([]byte, 16), Name: name, DisplayName: name}
	if _, err := rand.Read(u.ID); err != nil {
		return err
	}
	_, err = rp.Register(ctx, c, u,
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	return err
}

// refusedAAGUID picks an AAGUID the key restrictions refuse: the first
// blocked one, else a preset's that is not allowed, else a random one.
func refusedAAGUID(p *Policy) (string, error) {
	candidates := slices.Clone(p.Block)
	for _, pr := range attestation.Presets {
		candidates = append(candidates, attestation.FormatAAGUID(pr.AAGUID))
	}
	for _, c := range candidates {
		if p.restricted(c) != "" {
			return c, nil
		}
	}
	var a [16]byte
	if _, err := rand.Read(a[:]); err != nil {
		return "", err
	}
	return attestation.FormatAAGUID(a), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func list(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}

// tempKey opens a key in a temporary soft store, with packed attestation
// under that store's own CA; done closes and removes it.
func tempKey(aaguid [16]byte) (d *daemon.Daemon, done func(), err error) {
	dir, err := os.MkdirTemp("", "vauth-demo-key-")
	if err != nil {
		return nil, nil, err
	}
	d, err = daemon.Open(daemon.Options{Store: dir, Keystore: daemon.BackendSoft, Attestation: attestation.KindPacked, AAGUID: aaguid, Presence: presence.Always()})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return d, func() { d.Close(); os.RemoveAll(dir) }, nil
}
