package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// AccountsPerRP is how many discoverable credentials each RP of a
// populated store has: the scale runs grow the number of RPs, and
// getAssertion asks for an RP with this many accounts.
const AccountsPerRP = 100

// populateBatch is how many credentials each transaction of Populate
// writes.
const populateBatch = 2000

// ScaleRP names the i-th RP of a populated store.
func ScaleRP(i int) string { return fmt.Sprintf("rp%d.example", i) }

// Populate makes a soft store in dir holding n discoverable ES256
// credentials, AccountsPerRP per RP (ScaleRP(0), ScaleRP(1), ...), written
// in batches through soft.Store.CreateMany: the real record format and
// index, without an fsync per credential.
func Populate(dir string, n int) error {
	s, err := soft.Open(dir, soft.Options{})
	if err != nil {
		return err
	}
	reqs := make([]keystore.CreateRequest, 0, populateBatch)
	for i := range n {
		rpID := ScaleRP(i / AccountsPerRP)
		user := fmt.Sprintf("user%d", i%AccountsPerRP)
		reqs = append(reqs, keystore.CreateRequest{
			RPID:         rpID,
			RPIDHash:     sha256.Sum256([]byte(rpID)),
			User:         keystore.User{ID: []byte(user), Name: user + "@" + rpID, DisplayName: "User " + user},
			Algorithm:    keystore.ES256,
			Discoverable: true,
		})
		if len(reqs) == populateBatch || i == n-1 {
			if _, err := s.CreateMany(reqs); err != nil {
				s.Close()
				return err
			}
			reqs = reqs[:0]
		}
	}
	return s.Close()
}

// ScalePoint is what the scale run measures on a store of N discoverable
// credentials (N/AccountsPerRP RPs).
type ScalePoint struct {
	N        int
	Populate time.Duration // writing the store with Populate
	// StartUp is `vauth run` from exec to a socket that answers
	// (StartDaemonMedian).
	StartUp time.Duration
	// Over the virtual cable, each the median of several: getInfo (which
	// counts the discoverable credentials), getAssertion without an
	// allowList for an RP with AccountsPerRP accounts, getCredsMetadata.
	GetInfo, GetAssertion, CredsMetadata time.Duration
	// EnumerateRPs lists every RP (enumerateRPsBegin, then GetNextRP for
	// each); EnumerateCredentials lists the credentials of one RP. The
	// median of three, like DeleteCredential.
	EnumerateRPs, EnumerateCredentials time.Duration
	// DeleteCredential finds and deletes one credential (which is made
	// again, outside the measurement).
	DeleteCredential time.Duration
	// CredsList is `vauth creds list` on the store, 0 when this vauth has
	// no such command.
	CredsList time.Duration
	// The daemon's memory after start-up and after all of the above.
	MemStart, MemEnd Memory
	// Listing is the same authenticator on the same store, in process,
	// with the keystore's indexes hidden, so that it lists every
	// credential where the indexes answer: what the indexes save.
	Listing struct {
		GetInfo, CredsMetadata, EnumerateRPsBegin, DeleteCredential time.Duration
	}
}

// scaleRepeats is how many times the quick operations are measured.
const scaleRepeats = 15

// median runs f n times and returns its median duration.
func median(n int, f func() error) (time.Duration, error) {
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2], nil
}

// timed runs f once and returns its duration.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// scalePIN is the PIN the scale run sets, for credential management.
const scalePIN = "scale-1234"

// MeasureScale populates a store of n credentials (at least
// AccountsPerRP) in dir and measures what ScalePoint says with the vauth
// binary bin.
func MeasureScale(ctx context.Context, bin, dir string, n int) (ScalePoint, error) {
	p, err := MeasureDaemon(ctx, bin, dir, n)
	if err != nil {
		return p, err
	}
	store := filepath.Join(dir, "store")
	if err := p.measureListing(ctx, store); err != nil {
		return p, fmt.Errorf("without indexes: %w", err)
	}
	if p.CredsList, err = credsList(ctx, bin, store, n); err != nil {
		return p, err
	}
	return p, nil
}

// MeasureDaemon populates a store of n credentials (at least
// AccountsPerRP) in dir and measures the daemon's part of ScalePoint: the
// start-up, the operations over the virtual cable, the RSS.
func MeasureDaemon(ctx context.Context, bin, dir string, n int) (ScalePoint, error) {
	p := ScalePoint{N: n}
	store := filepath.Join(dir, "store")
	var err error
	if p.Populate, err = timed(func() error { return Populate(store, n) }); err != nil {
		return p, err
	}
	return p, p.measureDaemon(ctx, bin, store)
}

func (p *ScalePoint) measureDaemon(ctx context.Context, bin, store string) error {
	d, err := StartDaemonMedian(bin, store)
	if err != nil {
		return err
	}
	defer d.Stop()
	p.StartUp = d.StartUp
	if p.MemStart, err = d.Memory(); err != nil {
		return err
	}
	c, hc, err := d.DialCTAP2()
	if err != nil {
		return err
	}
	defer hc.Close()
	if err := c.SetPIN(ctx, 2, scalePIN); err != nil {
		return err
	}
	if err := p.measure(ctx, c, &p.GetInfo, &p.CredsMetadata, &p.DeleteCredential); err != nil {
		return err
	}
	rp := ScaleRP(0)
	cdh := sha256.Sum256([]byte("scale"))
	if p.GetAssertion, err = median(scaleRepeats, func() error {
		resp, err := c.GetAssertion(ctx, &client.GetAssertionRequest{RPID: rp, ClientDataHash: cdh[:]})
		if err == nil && resp.NumberOfCredentials != AccountsPerRP {
			err = fmt.Errorf("getAssertion for %s: %d credentials, want %d", rp, resp.NumberOfCredentials, AccountsPerRP)
		}
		return err
	}); err != nil {
		return err
	}
	tok, err := c.GetPinUvAuthTokenUsingPIN(ctx, 2, scalePIN, pinuv.PermissionCM, "")
	if err != nil {
		return err
	}
	cm := &client.CredentialManagement{Client: c, Token: tok}
	if p.EnumerateRPs, err = median(3, func() error {
		rps, err := cm.RPs(ctx)
		if err == nil && len(rps) != p.N/AccountsPerRP {
			err = fmt.Errorf("enumerateRPs: %d RPs, want %d", len(rps), p.N/AccountsPerRP)
		}
		return err
	}); err != nil {
		return err
	}
	if p.EnumerateCredentials, err = median(3, func() error {
		h := sha256.Sum256([]byte(rp))
		creds, err := cm.Credentials(ctx, h[:])
		if err == nil && len(creds) != AccountsPerRP {
			err = fmt.Errorf("enumerateCredentials of %s: %d, want %d", rp, len(creds), AccountsPerRP)
		}
		return err
	}); err != nil {
		return err
	}
	p.MemEnd, err = d.Memory()
	return err
}

// measure times getInfo, getCredsMetadata and deleteCredential (of the
// newest credential of the newest RP, which it then makes again, so that
// the store keeps its size) with c, which must hold the PIN.
func (p *ScalePoint) measure(ctx context.Context, c *client.Client, getInfo, metadata, deleteCred *time.Duration) error {
	var err error
	if *getInfo, err = median(scaleRepeats, func() error {
		inf, err := c.GetInfo(ctx)
		if err == nil && (inf.RemainingDiscoverableCredentials == nil || *inf.RemainingDiscoverableCredentials != ctap2.DefaultMaxDiscoverable-p.N) {
			err = fmt.Errorf("getInfo remainingDiscoverableCredentials %v with %d stored", inf.RemainingDiscoverableCredentials, p.N)
		}
		return err
	}); err != nil {
		return err
	}
	tok, err := c.GetPinUvAuthTokenUsingPIN(ctx, 2, scalePIN, pinuv.PermissionCM, "")
	if err != nil {
		return err
	}
	cm := &client.CredentialManagement{Client: c, Token: tok}
	if *metadata, err = median(scaleRepeats, func() error {
		m, err := cm.Metadata(ctx)
		if err == nil && m.Existing != p.N {
			err = fmt.Errorf("%d credentials, want %d", m.Existing, p.N)
		}
		return err
	}); err != nil {
		return fmt.Errorf("getCredsMetadata: %w", err)
	}
	// Delete the newest credential of the newest RP and make it again, so
	// that the store keeps its size; only the deletion is timed.
	rp := ScaleRP(p.N/AccountsPerRP - 1)
	cdh := sha256.Sum256([]byte("scale"))
	deletions := make([]time.Duration, 3)
	for i := range deletions {
		newest, err := c.GetAssertion(ctx, &client.GetAssertionRequest{RPID: rp, ClientDataHash: cdh[:]})
		if err != nil {
			return err
		}
		// The assertion's user presence spent the token's permissions.
		if cm.Token, err = c.GetPinUvAuthTokenUsingPIN(ctx, 2, scalePIN, pinuv.PermissionCM, ""); err != nil {
			return err
		}
		if deletions[i], err = timed(func() error { return cm.DeleteCredential(ctx, newest.Credential.ID) }); err != nil {
			return fmt.Errorf("deleteCredential: %w", err)
		}
		mc, err := c.GetPinUvAuthTokenUsingPIN(ctx, 2, scalePIN, pinuv.PermissionMC, rp)
		if err != nil {
			return err
		}
		_, err = c.MakeCredential(ctx, &client.MakeCredentialRequest{
			ClientDataHash:   cdh[:],
			RP:               client.RPEntity{ID: rp},
			User:             client.UserEntity{ID: newest.User.ID, Name: newest.User.Name, DisplayName: newest.User.DisplayName},
			PubKeyCredParams: []client.Algorithm{{Type: "public-key", Alg: cose.AlgES256}},
			Options:          map[string]bool{"rk": true},
			PinUvAuthParam:   mc.Param(cdh[:]),
			PinUvAuthProto:   mc.ProtocolVersion(),
		})
		if err != nil {
			return fmt.Errorf("makeCredential: %w", err)
		}
	}
	slices.Sort(deletions)
	*deleteCred = deletions[len(deletions)/2]
	return nil
}

// listingOnly is a keystore with the Keystore methods alone: the
// authenticator falls back to listing every credential.
type listingOnly struct{ keystore.Keystore }

func (p *ScalePoint) measureListing(ctx context.Context, store string) error {
	s, err := soft.Open(store, soft.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	a, err := ctap2.New(ctap2.Config{Keystore: listingOnly{s}, Attester: attestation.None(), Presence: presence.Always()})
	if err != nil {
		return err
	}
	c := client.New(client.Direct(a))
	if err := p.measure(ctx, c, &p.Listing.GetInfo, &p.Listing.CredsMetadata, &p.Listing.DeleteCredential); err != nil {
		return err
	}
	tok, err := c.GetPinUvAuthTokenUsingPIN(ctx, 2, scalePIN, pinuv.PermissionCM, "")
	if err != nil {
		return err
	}
	// enumerateRPsBegin alone (CTAP 2.1 §6.8.2, subcommand 0x02): what
	// the list of all costs, once per enumeration.
	p.Listing.EnumerateRPsBegin, err = median(3, func() error {
		return c.Call(ctx, 0x0A, map[int]any{1: 0x02, 3: tok.ProtocolVersion(), 4: tok.Param([]byte{0x02})}, nil)
	})
	return err
}

// credsList times `vauth creds list --json` on the store and checks that
// it lists n credentials; 0 when this vauth has no creds command.
func credsList(ctx context.Context, bin, store string, n int) (time.Duration, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "creds", "list", "--json", "--store", store)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	elapsed, err := timed(cmd.Run)
	if err != nil {
		if strings.Contains(errOut.String(), "unknown command") {
			return 0, nil
		}
		return 0, fmt.Errorf("vauth creds list: %v\n%s", err, errOut.String())
	}
	var list struct {
		Credentials []json.RawMessage `json:"credentials"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		return 0, fmt.Errorf("vauth creds list --json: %w", err)
	}
	if len(list.Credentials) != n {
		return 0, fmt.Errorf("vauth creds list: %d credentials, want %d", len(list.Credentials), n)
	}
	return elapsed, nil
}
