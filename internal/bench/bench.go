// Package bench holds vauth's speed benchmarks and their floors (a bare
// signature of each algorithm, a bare TPM2_Sign, an in-memory CTAPHID round
// trip), so that `go test -bench` and `make bench` measure the same code
// and report ratios from one run; the load generator (Load) that the load
// tests run against the daemon; and the scale run (Populate,
// MeasureScale) behind `make scale`, which drives `vauth run` as a child
// process (StartDaemon) on stores of many discoverable credentials.
package bench

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
)

// transport names how the benchmark reaches the authenticator.
type transport int

const (
	pipe transport = iota
	cable
)

// rig is an authenticator on a soft store, reached through real CTAPHID
// framing.
type rig struct {
	client *hid.Client
}

func newRig(b *testing.B, attestation string, via transport) *rig {
	d, err := daemon.Open(daemon.Options{Store: filepath.Join(b.TempDir(), "store"), Attestation: attestation, Presence: presence.Always()})
	if err != nil {
		b.Fatal(err)
	}
	return serveRig(b, d, via)
}

// serveRig serves the authenticator d to a CTAPHID client through via;
// the benchmark's cleanup closes both.
func serveRig(b *testing.B, d *daemon.Daemon, via transport) *rig {
	ctx, cancel := context.WithCancel(context.Background())
	var host hid.Transport
	switch via {
	case pipe:
		var dev hid.Transport
		host, dev = hid.Pipe()
		go func() { _ = d.Device.Serve(ctx, dev) }()
	case cable:
		path := filepath.Join(b.TempDir(), "vauth.sock")
		l, err := socket.Listen(path)
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = socket.Serve(ctx, l, d.Device) }()
		if host, err = socket.Dial(path); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
	}
	b.Cleanup(func() {
		cancel()
		host.Close()
		d.Close()
	})
	c, err := hid.NewClient(host)
	if err != nil {
		b.Fatal(err)
	}
	return &rig{client: c}
}

var enc, _ = cbor.CTAP2EncOptions().EncMode()

// CTAP2 requests as a client sends them; integer keys per CTAP 2.1 §6.1, §6.2.
func makeCredentialRequest(rk bool, alg int) []byte {
	cdh := sha256.Sum256([]byte("client data"))
	req := map[int]any{
		1: cdh[:],
		2: map[string]any{"id": "example.com", "name": "Example"},
		3: map[string]any{"id": []byte("user"), "name": "user"},
		4: []map[string]any{{"alg": alg, "type": "public-key"}},
	}
	if rk {
		req[7] = map[string]bool{"rk": true}
	}
	b, _ := enc.Marshal(req)
	return append([]byte{0x01}, b...)
}

func getAssertionRequest(credID []byte) []byte {
	cdh := sha256.Sum256([]byte("client data"))
	b, _ := enc.Marshal(map[int]any{
		1: "example.com",
		2: cdh[:],
		3: []map[string]any{{"id": credID, "type": "public-key"}},
	})
	return append([]byte{0x02}, b...)
}

func (r *rig) call(b *testing.B, req []byte) []byte {
	resp, err := r.client.CBOR(context.Background(), req, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(resp) == 0 || resp[0] != 0 {
		b.Fatalf("CTAP status %x", resp[:min(1, len(resp))])
	}
	return resp[1:]
}

func (r *rig) register(b *testing.B, alg int) []byte {
	var resp struct {
		AuthData []byte `cbor:"2,keyasint"`
	}
	if err := cbor.Unmarshal(r.call(b, makeCredentialRequest(false, alg)), &resp); err != nil {
		b.Fatal(err)
	}
	// authData: rpIdHash 32, flags 1, counter 4, AAGUID 16, ID length 2, ID.
	const off = 32 + 1 + 4 + 16
	n := int(resp.AuthData[off])<<8 | int(resp.AuthData[off+1])
	return resp.AuthData[off+2 : off+2+n]
}

// getAssertionOp registers a credential of alg on a new rig and returns
// one assertion with it.
func getAssertionOp(b *testing.B, via transport, alg int) func() {
	r := newRig(b, "none", via)
	req := getAssertionRequest(r.register(b, alg))
	return func() { r.call(b, req) }
}

func getAssertion(b *testing.B, via transport, alg int) {
	op := getAssertionOp(b, via, alg)
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
}

// GetAssertion is one assertion with a non-discoverable ES256 credential
// through the in-memory CTAPHID pipe: framing, CTAP2, the soft keystore.
func GetAssertion(b *testing.B) { getAssertion(b, pipe, keystore.ES256) }

// GetAssertionCable is the same over the Unix-socket virtual cable.
func GetAssertionCable(b *testing.B) { getAssertion(b, cable, keystore.ES256) }

func ping(b *testing.B, via transport) {
	r := newRig(b, "none", via)
	msg := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.client.Ping(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// Ping is a CTAPHID_PING round trip of 32 bytes through the in-memory
// pipe: the framing alone, the floor of the virtual cable's round trip.
func Ping(b *testing.B) { ping(b, pipe) }

// PingCable is the same round trip over the Unix-socket virtual cable.
func PingCable(b *testing.B) { ping(b, cable) }

// MakeCredential registers a non-discoverable ES256 credential with the
// default (packed, basic) attestation through the pipe.
func MakeCredential(b *testing.B) {
	op := MakeCredentialOp(b)
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
}

// MakeCredentialOp sets up MakeCredential and returns its operation, for
// Paired.
func MakeCredentialOp(b *testing.B) func() {
	r := newRig(b, "packed", pipe)
	req := makeCredentialRequest(false, keystore.ES256)
	return func() { r.call(b, req) }
}
