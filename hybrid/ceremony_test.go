package hybrid_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hybrid"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/webauthn"
)

// A hybrid channel is a CTAP2 transport for ctap2/client and webauthn.
var _ client.Authenticator = (*hybrid.Conn)(nil)

// phone is vauth's authenticator served over the hybrid transport, as
// `vauth hybrid` runs it, with the advert on an in-process radio.
type phone struct {
	d      *daemon.Daemon
	adv    hybrid.Advertiser
	scan   hybrid.Scanner // the client's
	tunnel string
}

func newPhone(t *testing.T) *phone {
	t.Helper()
	d, err := daemon.Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Attestation: "packed", Presence: presence.Always(), Transport: "hybrid"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ts := httptest.NewServer(&hybrid.TunnelServer{})
	t.Cleanup(ts.Close)
	radio := &hybrid.LocalRadio{}
	return &phone{d: d, adv: radio, scan: radio, tunnel: "ws" + strings.TrimPrefix(ts.URL, "http")}
}

// connect runs one transaction: the client shows a QR code, the phone
// "scans" its text and serves; it returns the client's channel and the
// phone's result.
func (p *phone) connect(ctx context.Context, t *testing.T, requestType string) (*hybrid.Conn, <-chan error) {
	t.Helper()
	pending, err := hybrid.NewPending(requestType)
	if err != nil {
		t.Fatal(err)
	}
	qr, err := hybrid.ParseQR(pending.QR().String())
	if err != nil {
		t.Fatal(err)
	}
	if qr.RequestType != requestType {
		t.Fatalf("QR request type %q, want %q", qr.RequestType, requestType)
	}
	auth := &hybrid.Authenticator{
		Handle: func(ctx context.Context, req []byte) []byte {
			return p.d.Authenticator.HandleCBOR(ctx, req, nil)
		},
		Advertiser: p.adv,
		TunnelURL:  p.tunnel,
	}
	done := make(chan error, 1)
	go func() { done <- auth.ServeQR(ctx, qr) }()
	conn, err := pending.Connect(ctx, hybrid.ConnectOptions{Scanner: p.scan, TunnelURL: p.tunnel})
	if err != nil {
		select {
		case perr := <-done:
			t.Fatalf("client: %v; authenticator: %v", err, perr)
		case <-time.After(time.Second):
			t.Fatalf("client: %v; authenticator still waiting", err)
		}
	}
	return conn, done
}

func finish(t *testing.T, conn *hybrid.Conn, done <-chan error) {
	t.Helper()
	if err := conn.Close(); err != nil {
		t.Errorf("closing the channel: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("authenticator side: %v", err)
	}
}

// TestCeremonyThroughTunnel registers and signs in through the whole
// hybrid stack: QR text, advert, local tunnel server, Noise handshake,
// encrypted CTAP2, each verified by go-webauthn.
func TestCeremonyThroughTunnel(t *testing.T) {
	ceremony(t, newPhone(t))
}

// TestCeremonyOverBlueZ is the same ceremony with the advert on the air:
// the phone advertises through BlueZ on one controller, the client scans
// on another. It needs bluetoothd and two LE controllers that hear each
// other (scripts/bluez-vm-test.sh sets them up with btvirt in a VM);
// VAUTH_BLUEZ=ADVERTISER,SCANNER names them, e.g. hci0,hci1.
func TestCeremonyOverBlueZ(t *testing.T) {
	adv, scan, ok := strings.Cut(os.Getenv("VAUTH_BLUEZ"), ",")
	if !ok {
		t.Skip("needs BlueZ and two controllers: VAUTH_BLUEZ=hci0,hci1 (scripts/bluez-vm-test.sh)")
	}
	p := newPhone(t)
	p.adv = hybrid.BlueZ{Adapter: "/org/bluez/" + adv}
	p.scan = hybrid.BlueZ{Adapter: "/org/bluez/" + scan}
	ceremony(t, p)
}

func ceremony(t *testing.T, p *phone) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	u := &demo.User{ID: []byte("hybrid-user"), Name: "alice", DisplayName: "Alice"}

	conn, done := p.connect(ctx, t, hybrid.RequestMakeCredential)
	cred, err := rp.Register(ctx, webauthn.NewClient(conn, demo.Origin), u)
	if err != nil {
		t.Fatalf("registration through the tunnel: %v", err)
	}
	finish(t, conn, done)
	if len(cred.Transport) != 1 || cred.Transport[0] != "hybrid" {
		t.Errorf("credential transports %v, want [hybrid]", cred.Transport)
	}
	rp.Enroll(u)

	conn, done = p.connect(ctx, t, hybrid.RequestGetAssertion)
	_, got, err := rp.Login(ctx, webauthn.NewClient(conn, demo.Origin), u)
	if err != nil {
		t.Fatalf("sign-in through the tunnel: %v", err)
	}
	finish(t, conn, done)
	if string(got.ID) != string(cred.ID) || got.Authenticator.SignCount <= cred.Authenticator.SignCount {
		t.Errorf("signed in with %x (count %d), want %x after count %d", got.ID, got.Authenticator.SignCount, cred.ID, cred.Authenticator.SignCount)
	}
}

// TestConnectWrongAdvert: a client ignores adverts that are not for its
// QR code and gives up when its context ends.
func TestConnectWrongAdvert(t *testing.T) {
	radio := &hybrid.LocalRadio{}
	stop, _ := radio.Advertise(t.Context(), make([]byte, hybrid.AdvertSize))
	defer stop()
	pending, err := hybrid.NewPending(hybrid.RequestGetAssertion)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := pending.Connect(ctx, hybrid.ConnectOptions{Scanner: radio, TunnelURL: "ws://127.0.0.1:1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want the deadline", err)
	}
}

// TestServeQRDomainUnknownToClient: the authenticator does not advertise
// an assigned tunnel server domain the QR code says the client lacks.
func TestServeQRDomainUnknownToClient(t *testing.T) {
	pending, err := hybrid.NewPending(hybrid.RequestGetAssertion)
	if err != nil {
		t.Fatal(err)
	}
	qr := *pending.QR()
	qr.KnownDomains = 1
	a := &hybrid.Authenticator{
		Handle:     func(context.Context, []byte) []byte { return []byte{0, 0xa0} },
		Advertiser: &hybrid.LocalRadio{},
		TunnelURL:  "ws://127.0.0.1:1",
		Domain:     1,
	}
	if err := a.ServeQR(t.Context(), &qr); !errors.Is(err, hybrid.ErrDomain) {
		t.Fatalf("ServeQR = %v, want ErrDomain", err)
	}
}
