package hybrid

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Pending is a QR-initiated transaction on the client platform's side,
// before the authenticator answers: show QR, then Connect.
type Pending struct {
	qr       QR
	identity *ecdh.PrivateKey
}

// NewPending makes a fresh identity key and QR secret. requestType is
// RequestGetAssertion or RequestMakeCredential.
func NewPending(requestType string) (*Pending, error) {
	id, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	p := &Pending{identity: id, qr: QR{
		Identity:     id.PublicKey(),
		KnownDomains: KnownDomains,
		Timestamp:    time.Now().Unix(),
		RequestType:  requestType,
	}}
	if _, err := rand.Read(p.qr.Secret[:]); err != nil {
		return nil, err
	}
	no := false // vauth's client keeps no linking state
	p.qr.SupportsLinking = &no
	return p, nil
}

// QR is the code to show the user.
func (p *Pending) QR() *QR { return &p.qr }

// ConnectOptions say where a client finds the authenticator.
type ConnectOptions struct {
	// Scanner hears the authenticator's advert. Required.
	Scanner Scanner
	// TunnelURL overrides the tunnel server the advert names (ws:// or
	// wss://, no path): for private tunnel servers and tests.
	TunnelURL string
	// HTTPClient dials the tunnel server; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// Connect waits for the authenticator's advert, joins its tunnel and runs
// the handshake. The Conn carries CTAP2 (ctap2/client.Authenticator).
func (p *Pending) Connect(ctx context.Context, opts ConnectOptions) (*Conn, error) {
	if opts.Scanner == nil {
		return nil, errors.New("hybrid: Connect needs a Scanner")
	}
	key := EIDKey(p.qr.Secret[:])
	var eid EID
	var plaintext [16]byte
	err := opts.Scanner.Scan(ctx, func(data []byte) bool {
		e, pt, err := DecryptAdvert(key, data)
		if err != nil {
			return false // someone else's advert
		}
		eid, plaintext = e, pt
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("hybrid: no advert from the authenticator: %w", err)
	}
	base := opts.TunnelURL
	if base == "" {
		if base, err = TunnelBase(eid.Domain); err != nil {
			return nil, err
		}
	}
	ws, _, err := dial(ctx, connectURL(base, eid.RoutingID, TunnelID(p.qr.Secret[:])), opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	c, err := p.handshake(ctx, ws, PSK(p.qr.Secret[:], plaintext))
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	return c, nil
}

func (p *Pending) handshake(ctx context.Context, ws *websocket.Conn, psk [PSKSize]byte) (*Conn, error) {
	in, msg, err := NewQRInitiator(p.identity, psk)
	if err != nil {
		return nil, err
	}
	if err := ws.Write(ctx, websocket.MessageBinary, msg); err != nil {
		return nil, err
	}
	resp, err := readBinary(ctx, ws)
	if err != nil {
		return nil, err
	}
	crypter, err := in.Finish(resp)
	if err != nil {
		return nil, err
	}
	frame, err := readBinary(ctx, ws)
	if err != nil {
		return nil, err
	}
	ph, err := crypter.Decrypt(frame)
	if err != nil {
		return nil, err
	}
	info, err := decodePostHandshake(ph)
	if err != nil {
		return nil, err
	}
	return &Conn{ws: ws, c: crypter, getInfo: info}, nil
}

// Conn is an established hybrid channel to an authenticator.
type Conn struct {
	mu      sync.Mutex
	ws      *websocket.Conn
	c       *Crypter
	getInfo []byte
	closed  bool
}

// CBOR sends one CTAP2 request and returns the response; it satisfies
// ctap2/client.Authenticator. getInfo is answered from the
// post-handshake message, as a client platform does (no round trip).
// The tunnel has no keepalives: onKeepalive is never called.
func (c *Conn) CBOR(ctx context.Context, req []byte, _ func(status byte)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("hybrid: channel closed")
	}
	if len(req) == 1 && req[0] == cmdGetInfo {
		return append([]byte{0}, c.getInfo...), nil
	}
	if err := writeFrame(ctx, c.ws, c.c, append([]byte{MsgCTAP}, req...)); err != nil {
		return nil, err
	}
	for {
		frame, err := readBinary(ctx, c.ws)
		if err != nil {
			return nil, err
		}
		msg, err := c.c.Decrypt(frame)
		if err != nil {
			return nil, err
		}
		if len(msg) == 0 {
			return nil, fmt.Errorf("%w: empty message", ErrFrame)
		}
		switch msg[0] {
		case MsgCTAP:
			return msg[1:], nil
		case MsgUpdate:
			continue // linking updates: vauth's client keeps no linking state
		default:
			return nil, fmt.Errorf("%w: message type %d from the authenticator", ErrFrame, msg[0])
		}
	}
}

// Close sends the shutdown message and drops the tunnel: the tunnel
// server ends both halves, so no WebSocket closing handshake is awaited.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := writeFrame(ctx, c.ws, c.c, []byte{MsgShutdown})
	return errors.Join(err, c.ws.CloseNow())
}
