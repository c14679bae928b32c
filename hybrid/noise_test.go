package hybrid

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"
)

func mustKey(t testing.TB) *ecdh.PrivateKey {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// handshake runs both halves of one mode; respond is the authenticator's.
type mode struct {
	name    string
	start   func(psk [PSKSize]byte) (*Initiator, []byte, error)
	respond func(psk [PSKSize]byte, msg []byte) ([]byte, *Crypter, error)
}

func modes(t testing.TB) []mode {
	client, phone := mustKey(t), mustKey(t)
	return []mode{
		{"QR (KNpsk0)",
			func(psk [PSKSize]byte) (*Initiator, []byte, error) { return NewQRInitiator(client, psk) },
			func(psk [PSKSize]byte, msg []byte) ([]byte, *Crypter, error) {
				return RespondQR(client.PublicKey(), psk, msg)
			}},
		{"linked (NKpsk0)",
			func(psk [PSKSize]byte) (*Initiator, []byte, error) { return NewLinkedInitiator(phone.PublicKey(), psk) },
			func(psk [PSKSize]byte, msg []byte) ([]byte, *Crypter, error) { return RespondLinked(phone, psk, msg) }},
	}
}

func TestHandshake(t *testing.T) {
	psk := [PSKSize]byte{1, 2, 3}
	for _, m := range modes(t) {
		in, msg, err := m.start(psk)
		if err != nil || len(msg) != HandshakeMessageSize {
			t.Fatalf("%s: initial message %d bytes, %v", m.name, len(msg), err)
		}
		resp, phone, err := m.respond(psk, msg)
		if err != nil || len(resp) != HandshakeMessageSize {
			t.Fatalf("%s: response %d bytes, %v", m.name, len(resp), err)
		}
		client, err := in.Finish(resp)
		if err != nil {
			t.Fatalf("%s: Finish: %v", m.name, err)
		}
		// Both directions, several messages, every padding boundary.
		for n := range 70 {
			msg := bytes.Repeat([]byte{byte(n)}, n)
			for _, dir := range []struct{ from, to *Crypter }{{client, phone}, {phone, client}} {
				frame, err := dir.from.Encrypt(msg)
				if err != nil {
					t.Fatal(err)
				}
				if len(frame)%paddingGranularity != tagSize%paddingGranularity || len(frame) < n+1+tagSize {
					t.Errorf("%s: %d-byte message in a %d-byte frame", m.name, n, len(frame))
				}
				got, err := dir.to.Decrypt(frame)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s: %d bytes: %x, %v", m.name, n, got, err)
				}
			}
		}
	}
}

func TestHandshakeRejects(t *testing.T) {
	psk := [PSKSize]byte{1}
	for _, m := range modes(t) {
		_, msg, err := m.start(psk)
		if err != nil {
			t.Fatal(err)
		}
		flip := func(i int) []byte { b := bytes.Clone(msg); b[i] ^= 1; return b }
		for _, tc := range []struct {
			name string
			psk  [PSKSize]byte
			msg  []byte
		}{
			{"wrong PSK", [PSKSize]byte{2}, msg},
			{"point off the curve", psk, flip(64)},
			{"tag changed", psk, flip(80)},
			{"short", psk, msg[:80]},
			{"long", psk, append(bytes.Clone(msg), 0)},
			{"empty", psk, nil},
		} {
			if _, _, err := m.respond(tc.psk, tc.msg); !errors.Is(err, ErrHandshake) {
				t.Errorf("%s: %s: %v, want ErrHandshake", m.name, tc.name, err)
			}
		}
		// And the client refuses a response from someone without the PSK.
		in, msg, err := m.start(psk)
		if err != nil {
			t.Fatal(err)
		}
		resp, _, err := m.respond(psk, msg)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(resp)
		bad[70] ^= 1
		if _, err := in.Finish(bad); !errors.Is(err, ErrHandshake) {
			t.Errorf("%s: tampered response: %v", m.name, err)
		}
	}
	// A QR handshake answered as if for another client's identity fails.
	_, msg, _ := NewQRInitiator(mustKey(t), psk)
	in2, _, _ := NewQRInitiator(mustKey(t), psk)
	resp, _, err := RespondQR(mustKey(t).PublicKey(), psk, msg)
	if err == nil {
		if _, err := in2.Finish(resp); err == nil {
			t.Error("handshake with the wrong identity key completed")
		}
	}
}

func TestCrypterRejects(t *testing.T) {
	a := newCrypter([32]byte{1}, [32]byte{2})
	b := newCrypter([32]byte{2}, [32]byte{1})
	f0, _ := b.Encrypt([]byte("first"))
	f1, _ := b.Encrypt([]byte("second"))
	// Out of order: the counter is the nonce, so a reordered or replayed
	// frame does not open.
	if _, err := a.Decrypt(f1); !errors.Is(err, ErrFrame) {
		t.Errorf("reordered frame: %v", err)
	}
	if got, err := a.Decrypt(f0); err != nil || string(got) != "first" {
		t.Fatalf("first frame: %q, %v", got, err)
	}
	if _, err := a.Decrypt(f0); !errors.Is(err, ErrFrame) {
		t.Errorf("replayed frame: %v", err)
	}
	// Bad padding under a valid tag.
	c := newCrypter([32]byte{3}, [32]byte{3})
	frame := c.write.Seal(nil, seqNonce(0), []byte{1, 2, 200}, nil)
	if _, err := c.Decrypt(frame); !errors.Is(err, ErrFrame) {
		t.Errorf("bad padding: %v", err)
	}
	empty := c.write.Seal(nil, seqNonce(1), nil, nil)
	if _, err := c.Decrypt(empty); !errors.Is(err, ErrFrame) {
		t.Errorf("empty plaintext: %v", err)
	}
	c.wseq = maxSequence + 1
	if _, err := c.Encrypt(nil); !errors.Is(err, ErrFrame) {
		t.Errorf("exhausted counter: %v", err)
	}
}

func TestPostHandshake(t *testing.T) {
	enc := func(v any) []byte { b, _ := encMode.Marshal(v); return b }
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"getInfo", enc(map[int]any{1: []byte{0xa0}}), true},
		{"features with ctap", enc(map[int]any{1: []byte{0xa0}, 3: []string{"dc", "ctap"}}), true},
		{"linking map", enc(map[int]any{1: []byte{0xa0}, 2: map[int]int{1: 1}}), true},
		{"no getInfo", enc(map[int]any{3: []string{"ctap"}}), false},
		{"no ctap", enc(map[int]any{1: []byte{0xa0}, 3: []string{"dc"}}), false},
		{"linking not a map", enc(map[int]any{1: []byte{0xa0}, 2: 5}), false},
		{"getInfo not bytes", enc(map[int]any{1: "x"}), false},
		{"not a map", enc([]int{1}), false},
		{"garbage", []byte{0xff}, false},
	} {
		_, err := decodePostHandshake(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestKNpsk0Transcript checks a whole QR handshake and the first frame
// against testdata/noise_knpsk0.json (self-made with an independent
// implementation; see its provenance), on both sides.
func TestKNpsk0Transcript(t *testing.T) {
	h := hexVectors(t, "testdata/noise_knpsk0.json")
	priv := func(k string) *ecdh.PrivateKey {
		p, err := ecdh.P256().NewPrivateKey(h(k))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	identity := priv("identityScalar")
	psk := [PSKSize]byte(h("psk"))

	s := newSymmetric(protocolKNpsk0)
	s.mixHash([]byte{1})
	s.mixHash(identity.PublicKey().Bytes())
	in, msg1, err := startInitiator(&Initiator{s: s, identity: identity}, psk, priv("initiatorEphemeralScalar"))
	if err != nil || !bytes.Equal(msg1, h("message1")) {
		t.Fatalf("message 1 = %x, %v\nwant %x", msg1, err, h("message1"))
	}

	r := newSymmetric(protocolKNpsk0)
	r.mixHash([]byte{1})
	r.mixHash(identity.PublicKey().Bytes())
	msg2, phone, err := respond(r, psk, nil, identity.PublicKey(), msg1, priv("responderEphemeralScalar"))
	if err != nil || !bytes.Equal(msg2, h("message2")) {
		t.Fatalf("message 2 = %x, %v\nwant %x", msg2, err, h("message2"))
	}
	client, err := in.Finish(msg2)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := phone.Encrypt(h("firstFramePlaintext"))
	if err != nil || !bytes.Equal(frame, h("firstFrameFromResponder")) {
		t.Fatalf("first frame = %x, %v\nwant %x", frame, err, h("firstFrameFromResponder"))
	}
	if got, err := client.Decrypt(frame); err != nil || !bytes.Equal(got, h("firstFramePlaintext")) {
		t.Fatalf("client reads %x, %v", got, err)
	}
}
