package demo

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/mds"
)

// The page's policy switches: key restrictions and enforced attestation
// refuse registrations as `vauth demo` does, a status set in the trusted
// BLOB takes effect at the next registration, and every registration logs
// its line.
func TestServePolicy(t *testing.T) {
	srv, base, origin := servePage(t)
	own := attestation.FormatAAGUID(attestation.DefaultAAGUID)
	ios := attestation.Presets[1]
	trusted := openDaemon(t, attestation.KindPacked, attestation.DefaultAAGUID)
	var (
		mu       sync.Mutex
		settings = mds.Settings{AAGUIDs: []string{own, "microsoft-authenticator-ios"}}
		log      bytes.Buffer
	)
	// The relying party fetches the trusted daemon's BLOB at each
	// registration, as from the control API.
	src := func(ctx context.Context) (metadata.Provider, error) {
		mu.Lock()
		set := settings
		mu.Unlock()
		blob, err := mds.BLOB(ctx, trusted, set, time.Now())
		if err != nil {
			return nil, err
		}
		root, err := mds.Root(trusted.Keystore)
		if err != nil {
			return nil, err
		}
		return LoadMetadata(blob, root.PEM())
	}
	if err := srv.SetPolicy(Policy{}, src, &log); err != nil {
		t.Fatal(err)
	}
	html := getPage(t, base)
	for _, id := range []string{`id="enforce"`, `id="allow"`, `id="block"`, `"/api/policy"`} {
		if !bytes.Contains(html, []byte(id)) {
			t.Errorf("the page lacks the policy switch %s", id)
		}
	}
	var p Policy
	if err := post(t, base+"/api/policy", []byte(`{"enforceAttestation":true,"blockAaguids":["microsoft-authenticator-ios"]}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.EnforceAttestation || len(p.Block) != 1 || p.Block[0] != attestation.FormatAAGUID(ios.AAGUID) {
		t.Fatalf("policy %+v", p)
	}
	other := openDaemon(t, attestation.KindPacked, attestation.DefaultAAGUID) // another CA
	blocked := openDaemon(t, attestation.KindPacked, ios.AAGUID)
	tests := []struct {
		user    string
		key     *daemon.Daemon
		revoke  bool // set REVOKED on own in the trusted BLOB first
		wantErr string
		line    string
	}{
		{"alice", trusted, false, "", "registration aaguid=" + own + ` user="alice" result=accepted`},
		{"bob", blocked, false, "aaguid on the block list", "registration aaguid=" + attestation.FormatAAGUID(ios.AAGUID) + ` user="bob" result=refused reason="aaguid on the block list"`},
		{"carol", other, false, "untrusted attestation", "registration aaguid=" + own + ` user="carol" result=refused reason="untrusted attestation: `},
		{"dave", trusted, true, "REVOKED", "registration aaguid=" + own + ` user="dave" result=refused reason="untrusted attestation: `},
	}
	for _, tc := range tests {
		if tc.revoke {
			mu.Lock()
			settings.Status = map[string]string{own: "REVOKED"}
			mu.Unlock()
		}
		c, err := Connect(t.Context(), tc.key, origin)
		if err != nil {
			t.Fatal(err)
		}
		log.Reset()
		err = ceremony(t, base, c, "register", tc.user, &Registered{})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.user, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v; want an error with %q", tc.user, err, tc.wantErr)
		}
		if !strings.HasPrefix(log.String(), tc.line) || strings.Count(log.String(), "\n") != 1 {
			t.Errorf("%s: log %q; want one line starting %q", tc.user, log.String(), tc.line)
		}
	}
	if err := post(t, base+"/api/policy", []byte(`{"allowAaguids":["yubikey"]}`), &p); err == nil || !strings.Contains(err.Error(), "invalid AAGUID") {
		t.Errorf("policy with a bad AAGUID: %v", err)
	}
	if err := srv.SetPolicy(Policy{}, nil, &log); err != nil {
		t.Fatal(err)
	}
	if err := post(t, base+"/api/policy", []byte(`{"enforceAttestation":true}`), &p); err == nil || !strings.Contains(err.Error(), "no metadata") {
		t.Errorf("enforcing with no metadata: %v", err)
	}
}
