package hybrid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/coder/websocket"
)

// getInfo is authenticatorGetInfo's command byte (CTAP 2.1 §6.4).
const cmdGetInfo = 0x04

// Authenticator serves CTAP2 over the hybrid transport: the phone's half
// of a QR-initiated transaction.
type Authenticator struct {
	// Handle answers one CTAP2 request (command byte and CBOR) with a
	// response (status byte and CBOR), as ctap2.Authenticator.HandleCBOR.
	Handle func(ctx context.Context, req []byte) []byte
	// Advertiser sends the BLE advert. Required.
	Advertiser Advertiser
	// TunnelURL is the tunnel server's base URL (ws:// or wss://, no
	// path); empty: the server of Domain.
	TunnelURL string
	// Domain is the encoded tunnel server domain the advert names, so
	// that the client finds the same server (0: cable.ua5v.com).
	Domain uint16
	// HTTPClient dials the tunnel server; nil: http.DefaultClient.
	HTTPClient *http.Client
	// Logger, when set, hears the stages of the transaction.
	Logger *slog.Logger
}

func (a *Authenticator) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// ServeQR runs one transaction for a scanned QR code: it opens a tunnel,
// advertises, answers the client's handshake, sends getInfo, then answers
// CTAP2 requests until the client shuts the channel down.
func (a *Authenticator) ServeQR(ctx context.Context, qr *QR) error {
	if a.Handle == nil || a.Advertiser == nil {
		return errors.New("hybrid: Authenticator needs Handle and Advertiser")
	}
	// An assigned domain the client does not know would strand it: a QR
	// code without the count knows only the first (Chromium's rule).
	if a.Domain != 0 && a.Domain < 256 && int64(a.Domain) >= qr.KnownDomains {
		return fmt.Errorf("%w: the client knows %d assigned domains, not %d", ErrDomain, qr.KnownDomains, a.Domain)
	}
	base := a.TunnelURL
	if base == "" {
		var err error
		if base, err = TunnelBase(a.Domain); err != nil {
			return err
		}
	}
	getInfo := a.Handle(ctx, []byte{cmdGetInfo})
	if len(getInfo) < 2 || getInfo[0] != 0 {
		return fmt.Errorf("hybrid: authenticator's getInfo failed: %x", getInfo)
	}

	conn, resp, err := dial(ctx, newURL(base, TunnelID(qr.Secret[:])), a.HTTPClient)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	var eid EID
	rid, err := hex.DecodeString(resp.Header.Get(RoutingIDHeader))
	if err != nil || len(rid) != RoutingIDSize {
		return fmt.Errorf("hybrid: tunnel server sent no valid %s header", RoutingIDHeader)
	}
	copy(eid.RoutingID[:], rid)
	eid.Domain = a.Domain
	if _, err := rand.Read(eid.Nonce[:]); err != nil {
		return err
	}
	advert := EncryptAdvert(EIDKey(qr.Secret[:]), eid)
	stop, err := a.Advertiser.Advertise(ctx, advert[:])
	if err != nil {
		return fmt.Errorf("hybrid: advertising: %w", err)
	}
	a.log().Info("hybrid: tunnel open, advertising", "routingId", hex.EncodeToString(rid))

	msg, err := readBinary(ctx, conn)
	stop()
	if err != nil {
		return fmt.Errorf("hybrid: waiting for the client's handshake: %w", err)
	}
	out, crypter, err := RespondQR(qr.Identity, PSK(qr.Secret[:], eid.Plaintext()), msg)
	if err != nil {
		return err
	}
	if err := conn.Write(ctx, websocket.MessageBinary, out); err != nil {
		return err
	}
	ph, err := encodePostHandshake(getInfo[1:])
	if err != nil {
		return err
	}
	if err := writeFrame(ctx, conn, crypter, ph); err != nil {
		return err
	}
	a.log().Info("hybrid: handshake done")
	return a.serve(ctx, conn, crypter)
}

// serve answers CTAP frames until a shutdown frame or the tunnel's end.
func (a *Authenticator) serve(ctx context.Context, conn *websocket.Conn, c *Crypter) error {
	for {
		frame, err := readBinary(ctx, conn)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				return nil // the client closed without a shutdown frame
			}
			return err
		}
		msg, err := c.Decrypt(frame)
		if err != nil {
			return err
		}
		if len(msg) == 0 {
			return fmt.Errorf("%w: empty message", ErrFrame)
		}
		switch msg[0] {
		case MsgShutdown:
			return nil // the deferred CloseNow drops the tunnel
		case MsgCTAP:
			resp := a.Handle(ctx, msg[1:])
			if err := writeFrame(ctx, conn, c, append([]byte{MsgCTAP}, resp...)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: message type %d from the client", ErrFrame, msg[0])
		}
	}
}

func writeFrame(ctx context.Context, conn *websocket.Conn, c *Crypter, msg []byte) error {
	frame, err := c.Encrypt(msg)
	if err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageBinary, frame)
}
