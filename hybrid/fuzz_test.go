package hybrid

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Every parser of data from a QR code, the air or the tunnel must fail
// cleanly on any input: these fuzz targets only look for panics and
// check that a success is consistent.

func FuzzParseQR(f *testing.F) {
	p, _ := NewPending(RequestMakeCredential)
	f.Add(p.QR().String())
	f.Add("FIDO:/16736865")
	f.Add("FIDO:/999")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQR(s)
		if err != nil {
			return
		}
		// What parsed must survive its own encoding.
		q2, err := ParseQR(q.String())
		if err != nil || q2.Secret != q.Secret || !q2.Identity.Equal(q.Identity) {
			t.Fatalf("re-encoding %q: %v", s, err)
		}
	})
}

func FuzzDigits(f *testing.F) {
	f.Add("16736865")
	f.Add("00000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DigitsToBytes(s)
		if err != nil {
			return
		}
		if got := BytesToDigits(b); got != s {
			t.Fatalf("%q decodes to %x, which encodes to %q", s, b, got)
		}
	})
}

func FuzzDecryptAdvert(f *testing.F) {
	key := EIDKey([]byte("fuzz"))
	good := EncryptAdvert(key, EID{RoutingID: [3]byte{1, 2, 3}})
	f.Add(good[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, _, err := DecryptAdvert(key, data)
		if err == nil && EncryptAdvert(key, e) != [AdvertSize]byte(data) {
			t.Fatalf("%x decrypts but does not re-encrypt to itself", data)
		}
	})
}

func FuzzHandshake(f *testing.F) {
	client := mustKey(f)
	psk := [PSKSize]byte{9}
	_, msg, _ := NewQRInitiator(client, psk)
	resp, _, _ := RespondQR(client.PublicKey(), psk, msg)
	f.Add(msg, resp)
	f.Add([]byte{}, []byte{4})
	f.Fuzz(func(t *testing.T, msg, resp []byte) {
		// The authenticator's side on the client's message, the client's
		// on the authenticator's response.
		if _, _, err := RespondQR(client.PublicKey(), psk, msg); err == nil && len(msg) != HandshakeMessageSize {
			t.Fatalf("accepted a %d-byte handshake", len(msg))
		}
		fresh, _, err := NewQRInitiator(client, psk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.Finish(resp); err == nil {
			t.Fatal("a fuzzed response completed a fresh handshake")
		}
	})
}

func FuzzFrames(f *testing.F) {
	send := newCrypter([32]byte{1}, [32]byte{2})
	frame, _ := send.Encrypt([]byte{MsgCTAP, 4})
	f.Add(frame)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := newCrypter([32]byte{2}, [32]byte{1})
		if pt, err := c.Decrypt(frame); err == nil && len(pt) >= len(frame) {
			t.Fatalf("%d-byte plaintext from a %d-byte frame", len(pt), len(frame))
		}
		_, _ = decodePostHandshake(frame)
	})
}

// FuzzAuthenticatorFrames feeds frames, encrypted under the right keys,
// to the authenticator's serving loop through a real WebSocket: whatever
// the client sends, the loop answers or ends with an error, never panics.
func FuzzAuthenticatorFrames(f *testing.F) {
	f.Add([]byte{MsgCTAP, 4})
	f.Add([]byte{MsgShutdown})
	f.Add([]byte{MsgUpdate, 0xa0})
	f.Add([]byte{})
	f.Add([]byte{7})
	f.Fuzz(func(t *testing.T, msg []byte) {
		a := &Authenticator{Handle: func(_ context.Context, req []byte) []byte { return append([]byte{0}, req...) }}
		done := make(chan error, 1)
		srv := httptest.NewServer(httpHandlerFunc(func(c *websocket.Conn) {
			done <- a.serve(context.Background(), c, newCrypter([32]byte{1}, [32]byte{2}))
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		client := newCrypter([32]byte{2}, [32]byte{1})
		if err := writeFrame(ctx, ws, client, msg); err != nil {
			t.Fatal(err)
		}
		if len(msg) > 0 && msg[0] == MsgCTAP {
			frame, err := readBinary(ctx, ws)
			if err != nil {
				t.Fatal(err)
			}
			got, err := client.Decrypt(frame)
			if err != nil || !bytes.Equal(got, append([]byte{MsgCTAP, 0}, msg[1:]...)) {
				t.Fatalf("echo %x, %v", got, err)
			}
			ws.CloseNow()
		}
		<-done
	})
}

// httpHandlerFunc accepts one WebSocket and hands it to serve.
type httpHandlerFunc func(*websocket.Conn)

func (h httpHandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	h(c)
}
