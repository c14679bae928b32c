package hybrid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Tunnel service protocol (CTAP 2.2 §11.5): the authenticator opens
// /cable/new/<tunnel ID> and learns its routing ID from a response
// header; the client opens /cable/connect/<routing ID>/<tunnel ID>. IDs
// are hex; the WebSocket subprotocol is fido.cable; each binary message
// is one handshake message or one encrypted frame.
const (
	Subprotocol     = "fido.cable"
	RoutingIDHeader = "X-caBLE-Routing-ID"
	newPath         = "/cable/new/"
	connectPath     = "/cable/connect/"

	// maxMessage bounds a tunnel message: a CTAP message (vauth accepts
	// up to a few KiB, large blobs a little more) encrypted and padded.
	maxMessage = 1 << 20
)

// TunnelBase is the URL of the tunnel server for an encoded domain:
// wss:// on the domain's name.
func TunnelBase(domain uint16) (string, error) {
	name, err := DomainName(domain)
	if err != nil {
		return "", err
	}
	return "wss://" + name, nil
}

func newURL(base string, tunnelID [TunnelIDSize]byte) string {
	return strings.TrimSuffix(base, "/") + newPath + strings.ToUpper(hex.EncodeToString(tunnelID[:]))
}

func connectURL(base string, routingID [RoutingIDSize]byte, tunnelID [TunnelIDSize]byte) string {
	return strings.TrimSuffix(base, "/") + connectPath +
		strings.ToUpper(hex.EncodeToString(routingID[:])) + "/" + strings.ToUpper(hex.EncodeToString(tunnelID[:]))
}

func dial(ctx context.Context, url string, client *http.Client) (*websocket.Conn, *http.Response, error) {
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, Subprotocols: []string{Subprotocol}})
	if err != nil {
		return nil, nil, fmt.Errorf("hybrid: tunnel %s: %w", url, err)
	}
	c.SetReadLimit(maxMessage)
	return c, resp, nil
}

func readBinary(ctx context.Context, c *websocket.Conn) ([]byte, error) {
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: text message on the tunnel", ErrFrame)
	}
	return b, nil
}

// TunnelServer relays between an authenticator and a client: a private
// tunnel service for tests and deployments that keep traffic in-house.
// It sees only the Noise handshake and ciphertext.
type TunnelServer struct {
	// Logger, when set, hears of tunnels opened and closed.
	Logger *slog.Logger
	// Wait is how long an authenticator's tunnel waits for its client; 0:
	// three minutes.
	Wait time.Duration

	mu      sync.Mutex
	tunnels map[[TunnelIDSize]byte]*pending
}

type pending struct {
	routingID [RoutingIDSize]byte
	peer      chan *websocket.Conn // the client's connection, handed over once
}

func (s *TunnelServer) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ServeHTTP serves the two tunnel endpoints.
func (s *TunnelServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, newPath):
		s.serveNew(w, r, p[len(newPath):])
	case strings.HasPrefix(p, connectPath):
		s.serveConnect(w, r, p[len(connectPath):])
	default:
		http.NotFound(w, r)
	}
}

func parseID(s string, out []byte) bool {
	n, err := hex.Decode(out, []byte(s))
	return err == nil && n == len(out) && len(s) == 2*len(out)
}

func (s *TunnelServer) serveNew(w http.ResponseWriter, r *http.Request, rest string) {
	var tunnelID [TunnelIDSize]byte
	if !parseID(rest, tunnelID[:]) {
		http.Error(w, "bad tunnel ID", http.StatusBadRequest)
		return
	}
	p := &pending{peer: make(chan *websocket.Conn, 1)}
	if _, err := rand.Read(p.routingID[:]); err != nil {
		http.Error(w, "no randomness", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	if s.tunnels == nil {
		s.tunnels = map[[TunnelIDSize]byte]*pending{}
	}
	if _, dup := s.tunnels[tunnelID]; dup {
		s.mu.Unlock()
		http.Error(w, "tunnel ID in use", http.StatusConflict)
		return
	}
	s.tunnels[tunnelID] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.tunnels, tunnelID)
		s.mu.Unlock()
	}()

	w.Header().Set(RoutingIDHeader, strings.ToUpper(hex.EncodeToString(p.routingID[:])))
	auth, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		return // Accept has answered
	}
	auth.SetReadLimit(maxMessage)
	s.log().Info("tunnel opened", "routingId", hex.EncodeToString(p.routingID[:]))
	wait := s.Wait
	if wait == 0 {
		wait = 3 * time.Minute
	}
	select {
	case client := <-p.peer:
		pipe(r.Context(), auth, client)
		s.log().Info("tunnel closed", "routingId", hex.EncodeToString(p.routingID[:]))
	case <-time.After(wait):
		auth.Close(websocket.StatusGoingAway, "no client came")
	case <-r.Context().Done():
		auth.CloseNow()
	}
}

func (s *TunnelServer) serveConnect(w http.ResponseWriter, r *http.Request, rest string) {
	var routingID [RoutingIDSize]byte
	var tunnelID [TunnelIDSize]byte
	rid, tid, ok := strings.Cut(rest, "/")
	if !ok || !parseID(rid, routingID[:]) || !parseID(tid, tunnelID[:]) {
		http.Error(w, "bad routing or tunnel ID", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	p := s.tunnels[tunnelID]
	if p != nil && p.routingID == routingID {
		delete(s.tunnels, tunnelID) // one client per tunnel
	} else {
		p = nil
	}
	s.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		return
	}
	client.SetReadLimit(maxMessage)
	// The authenticator's handler pipes; a hijacked connection outlives
	// this handler.
	p.peer <- client
}

// pipe copies binary messages both ways until either side ends, then
// closes both.
func pipe(ctx context.Context, a, b *websocket.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	copyOne := func(from, to *websocket.Conn) {
		defer wg.Done()
		defer cancel()
		for {
			typ, msg, err := from.Read(ctx)
			if err != nil {
				return
			}
			if err := to.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go copyOne(a, b)
	go copyOne(b, a)
	wg.Wait()
	a.Close(websocket.StatusNormalClosure, "")
	b.Close(websocket.StatusNormalClosure, "")
}
