package ctap2

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// withAlgorithms replaces the pubKeyCredParams of makeCredential params.
func withAlgorithms(params map[int]any, algs ...int) map[int]any {
	var ps []any
	for _, alg := range algs {
		ps = append(ps, map[string]any{"type": "public-key", "alg": alg})
	}
	params[int(makeCredentialPubKeyCredParams)] = ps
	return params
}

// TestEveryAlgorithm registers a credential of each algorithm, of both
// kinds, with packed self attestation (signed by the credential's own key,
// so alg is the credential's: WebAuthn §8.2) and packed basic attestation
// (signed by vauth's ES256 attestation key), then asserts with it.
func TestEveryAlgorithm(t *testing.T) {
	var ca *attestation.CA
	basic := func(c *Config) {
		var err error
		if ca, err = attestation.LoadOrCreateCA(c.Keystore); err != nil {
			t.Fatal(err)
		}
		c.Attester = attestation.Basic(ca, testAAGUID, c.Keystore)
	}
	for _, att := range []struct {
		name   string
		modify []func(*Config)
	}{{"self", nil}, {"basic", []func(*Config){basic}}} {
		d := newTestDevice(t, att.modify...)
		for _, alg := range keystore.Preferred() {
			for _, rk := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/rk=%t", att.name, keystore.AlgorithmName(alg), rk)
				user := []byte(name)
				reg := d.register(withAlgorithms(makeCredentialParams("example.com", user, "alice", rk), alg))
				if reg.authData.alg != alg {
					t.Errorf("%s: credential public key has alg %d", name, reg.authData.alg)
				}
				if n := len(reg.authData.credentialID); n > d.store.MaxCredentialIDLength() {
					t.Errorf("%s: credential ID of %d bytes, more than maxCredentialIdLength %d", name, n, d.store.MaxCredentialIDLength())
				}
				checkPackedStatement(t, name, reg, alg, ca)
				status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", reg.authData.credentialID))
				if status != CTAP2OK {
					t.Fatalf("%s: getAssertion: %v", name, status)
				}
				verifyAlg(t, alg, reg.authData.publicKey, decodeAssertion(t, resp))
			}
		}
	}
}

// checkPackedStatement checks a packed statement: self attestation (ca
// nil) with the credential's own alg and key, basic attestation with ES256
// and the leaf certificate's key.
func checkPackedStatement(t *testing.T, name string, reg registration, credAlg int, ca *attestation.CA) {
	t.Helper()
	if reg.fmt != attestation.FormatPacked {
		t.Fatalf("%s: fmt %q", name, reg.fmt)
	}
	var alg int
	var sig []byte
	mustUnmarshal(t, reg.attStmt["alg"], &alg)
	mustUnmarshal(t, reg.attStmt["sig"], &sig)
	signed := append(slices.Clone(reg.authData.raw), clientDataHash...)
	pub := reg.authData.publicKey
	wantAlg := credAlg
	if ca != nil {
		var x5c [][]byte
		mustUnmarshal(t, reg.attStmt["x5c"], &x5c)
		cert, err := x509.ParseCertificate(x5c[0])
		if err != nil {
			t.Fatal(err)
		}
		pub, wantAlg = cert.PublicKey, keystore.ES256
	} else if _, ok := reg.attStmt["x5c"]; ok {
		t.Errorf("%s: self attestation with x5c", name)
	}
	if alg != wantAlg {
		t.Errorf("%s: attStmt alg %d, want %d", name, alg, wantAlg)
	}
	if err := cose.Verify(alg, pub, signed, sig); err != nil {
		t.Errorf("%s: attestation signature: %v", name, err)
	}
}

// TestAlgorithmOffer: makeCredential takes the first of the RP's
// pubKeyCredParams that the authenticator offers (CTAP 2.1 §6.1.2 step 3),
// whatever vauth's own preference, and Config.Algorithms restricts and
// orders what getInfo offers.
func TestAlgorithmOffer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offered []int
		rp      []int
		want    int // 0: CTAP2_ERR_UNSUPPORTED_ALGORITHM
	}{
		{"RP prefers RSA", nil, []int{keystore.RS256, keystore.ES256}, keystore.RS256},
		{"RP prefers ES512", nil, []int{keystore.ES512, keystore.EdDSA}, keystore.ES512},
		{"secp256k1 alone", nil, []int{keystore.ES256K}, keystore.ES256K},
		{"RSA not offered: fallback", []int{keystore.ES256, keystore.EdDSA}, []int{keystore.RS256, keystore.PS256, keystore.EdDSA}, keystore.EdDSA},
		{"only RSA offered", []int{keystore.PS256}, []int{keystore.ES256, keystore.PS256}, keystore.PS256},
		{"nothing in common", []int{keystore.ES384}, []int{keystore.ES256, keystore.RS256}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t, func(c *Config) { c.Algorithms = tc.offered })
			var info []struct {
				Alg  int    `cbor:"alg"`
				Type string `cbor:"type"`
			}
			mustUnmarshal(t, d.mustGetInfo()[getInfoAlgorithms], &info)
			var got []int
			for _, a := range info {
				got = append(got, a.Alg)
			}
			if want := cmpOrSlice(tc.offered, keystore.Preferred()); !slices.Equal(got, want) {
				t.Errorf("getInfo algorithms %v, want %v", got, want)
			}
			status, resp := d.call(CmdMakeCredential, withAlgorithms(makeCredentialParams("example.com", []byte("u"), "u", false), tc.rp...))
			if tc.want == 0 {
				if status != CTAP2ErrUnsupportedAlgorithm {
					t.Errorf("makeCredential = %v, want CTAP2_ERR_UNSUPPORTED_ALGORITHM", status)
				}
				return
			}
			if status != CTAP2OK {
				t.Fatalf("makeCredential = %v", status)
			}
			var authData []byte
			mustUnmarshal(t, resp[makeCredentialRespAuthData], &authData)
			if alg := parseAuthData(t, authData).alg; alg != tc.want {
				t.Errorf("credential alg %s, want %s", keystore.AlgorithmName(alg), keystore.AlgorithmName(tc.want))
			}
		})
	}
}

func cmpOrSlice(a, b []int) []int {
	if a != nil {
		return a
	}
	return b
}

// gatedKeystore holds Create until released, to stand for a slow key
// generation (RSA) that can be watched from outside.
type gatedKeystore struct {
	keystore.Keystore
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedKeystore) Create(req keystore.CreateRequest) (*keystore.Credential, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.Keystore.Create(req)
}

// TestKeyGenerationKeepaliveCancel runs makeCredential through CTAPHID
// while key generation is held: the device keeps sending KEEPALIVE
// (processing) meanwhile, and a CTAPHID_CANCEL sent during generation of a
// non-discoverable RSA credential ends the command with
// CTAP2_ERR_KEEPALIVE_CANCEL; a discoverable one is stored and reported.
func TestKeyGenerationKeepaliveCancel(t *testing.T) {
	for _, tc := range []struct {
		rk   bool
		want Status
	}{{false, CTAP2ErrKeepaliveCancel}, {true, CTAP2OK}} {
		t.Run(fmt.Sprintf("rk=%t", tc.rk), func(t *testing.T) {
			gate := &gatedKeystore{entered: make(chan struct{}), release: make(chan struct{})}
			d := newTestDevice(t, func(c *Config) { gate.Keystore = c.Keystore; c.Keystore = gate })
			c := serveHID(t, d.a, hid.WithKeepaliveInterval(5*time.Millisecond))
			processing := make(chan struct{}, 64)
			onKeepalive := func(s byte) {
				select {
				case <-gate.entered:
					if s == hid.StatusProcessing {
						select {
						case processing <- struct{}{}:
						default:
						}
					}
				default:
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			params := withAlgorithms(makeCredentialParams("example.com", []byte("u"), "u", tc.rk), keystore.RS256)
			type result struct {
				resp []byte
				err  error
			}
			res := make(chan result, 1)
			go func() {
				resp, err := c.CBOR(ctx, append([]byte{byte(CmdMakeCredential)}, encode(t, params)...), onKeepalive)
				res <- result{resp, err}
			}()
			<-gate.entered
			for range 2 { // the keepalives go on while the key is made
				select {
				case <-processing:
				case <-time.After(5 * time.Second):
					t.Fatal("no KEEPALIVE while the key was being made")
				}
			}
			cancel()
			time.Sleep(20 * time.Millisecond) // let CTAPHID_CANCEL reach the device
			close(gate.release)
			r := <-res
			if r.err != nil || len(r.resp) == 0 {
				t.Fatalf("CBOR = %x, %v", r.resp, r.err)
			}
			if got := Status(r.resp[0]); got != tc.want {
				t.Errorf("makeCredential = %v, want %v", got, tc.want)
			}
			var m map[int]cbor.RawMessage
			if tc.want == CTAP2OK {
				if err := cbor.Unmarshal(r.resp[1:], &m); err != nil || parseAuthData(t, mustBytes(t, m[makeCredentialRespAuthData])).alg != keystore.RS256 {
					t.Errorf("response %x: %v", r.resp, err)
				}
			}
		})
	}
}

func mustBytes(t *testing.T, raw cbor.RawMessage) []byte {
	t.Helper()
	var b []byte
	mustUnmarshal(t, raw, &b)
	return b
}

// TestSetAlgorithms changes what is offered while the authenticator runs:
// getInfo and makeCredential follow, a bad list changes nothing, and a
// credential of an algorithm no longer offered still asserts.
func TestSetAlgorithms(t *testing.T) {
	d := newTestDevice(t)
	reg := d.register(withAlgorithms(makeCredentialParams("example.com", []byte("u"), "u", false), keystore.ES256))
	offered := func() []int {
		var info []algorithmDescriptor
		mustUnmarshal(t, d.mustGetInfo()[getInfoAlgorithms], &info)
		var algs []int
		for _, a := range info {
			algs = append(algs, a.Alg)
		}
		return algs
	}
	if err := d.a.SetAlgorithms([]int{keystore.PS256, keystore.ES384}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]int{{}, {-65535}, {keystore.ES384, keystore.ES384}} {
		if err := d.a.SetAlgorithms(bad); err == nil {
			t.Errorf("SetAlgorithms(%v) succeeded", bad)
		}
	}
	want := []int{keystore.PS256, keystore.ES384}
	if got := offered(); !slices.Equal(got, want) || !slices.Equal(d.a.Algorithms(), want) {
		t.Errorf("getInfo offers %v, Algorithms() = %v; want %v", got, d.a.Algorithms(), want)
	}
	if status, _ := d.call(CmdMakeCredential, withAlgorithms(makeCredentialParams("example.com", []byte("v"), "v", false), keystore.ES256)); status != CTAP2ErrUnsupportedAlgorithm {
		t.Errorf("makeCredential ES256 = %v, want CTAP2_ERR_UNSUPPORTED_ALGORITHM", status)
	}
	status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", reg.authData.credentialID))
	if status != CTAP2OK {
		t.Fatalf("getAssertion with the ES256 credential: %v", status)
	}
	verifyAlg(t, keystore.ES256, reg.authData.publicKey, decodeAssertion(t, resp))
	if err := d.a.SetAlgorithms(nil); err != nil || !slices.Equal(offered(), keystore.Preferred()) {
		t.Errorf("SetAlgorithms(nil) = %v: offers %v, want the keystore's", err, offered())
	}
}

// TestLongestCredentialIDsFit: ES512 keys with the longest credBlob make
// the longest credential IDs (keystore/soft: 155 bytes; RSA keys, which
// would make 345, are kept in the store behind 17-byte IDs); getInfo
// reports that as maxCredentialIdLength, and maxCredentialCountInList
// stays at a number of such IDs that fits a getAssertion in maxMsgSize:
// 4 on uhid's 1200 bytes, which python-fido2 0.9 holds allowLists to.
func TestLongestCredentialIDsFit(t *testing.T) {
	for _, tc := range []struct {
		maxMsg, wantCount int
	}{{DefaultMaxMsgSize, DefaultMaxCredentialCountInList}, {1200, 4}} {
		d := newTestDevice(t, func(c *Config) { c.MaxMsgSize = tc.maxMsg })
		maxID, count := d.idLimits()
		if maxID != d.store.MaxCredentialIDLength() || maxID != 155 || count != tc.wantCount {
			t.Errorf("maxMsgSize %d: maxCredentialIdLength %d (store %d), maxCredentialCountInList %d; want 155, %d",
				tc.maxMsg, maxID, d.store.MaxCredentialIDLength(), count, tc.wantCount)
		}
		d.checkFullAllowList(tc.maxMsg, maxID, count, keystore.ES512)
	}
}
