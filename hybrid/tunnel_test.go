package hybrid

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestTunnelServerRefuses: malformed IDs, unknown tunnels, a wrong
// routing ID and a second authenticator on one tunnel ID are refused
// before any WebSocket exists.
func TestTunnelServerRefuses(t *testing.T) {
	srv := httptest.NewServer(&TunnelServer{})
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tid := [TunnelIDSize]byte{1}
	auth, resp, err := dial(ctx, newURL(base, tid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer auth.CloseNow()
	rid, err := hex.DecodeString(resp.Header.Get(RoutingIDHeader))
	if err != nil || len(rid) != RoutingIDSize {
		t.Fatalf("routing ID header %q", resp.Header.Get(RoutingIDHeader))
	}
	wrong := [RoutingIDSize]byte(rid)
	wrong[0] ^= 1
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"short tunnel ID", "/cable/new/0102", http.StatusBadRequest},
		{"non-hex tunnel ID", "/cable/new/" + strings.Repeat("zz", 16), http.StatusBadRequest},
		{"tunnel ID in use", newURL("", tid), http.StatusConflict},
		{"no routing ID", "/cable/connect/" + hex.EncodeToString(tid[:]), http.StatusBadRequest},
		{"unknown tunnel", connectURL("", [3]byte(rid), [TunnelIDSize]byte{2}), http.StatusNotFound},
		{"wrong routing ID", connectURL("", wrong, tid), http.StatusNotFound},
		{"other path", "/", http.StatusNotFound},
	} {
		_, resp, err := websocket.Dial(ctx, base+tc.path, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Errorf("%s: status %d (%v), want %d", tc.name, code, err, tc.status)
		}
	}
	// The right pair is piped both ways.
	client, _, err := dial(ctx, connectURL(base, [3]byte(rid), tid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	for _, dir := range []struct{ from, to *websocket.Conn }{{client, auth}, {auth, client}} {
		if err := dir.from.Write(ctx, websocket.MessageBinary, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if got, err := readBinary(ctx, dir.to); err != nil || string(got) != "ping" {
			t.Fatalf("relayed %q, %v", got, err)
		}
	}
	// A second client for the same tunnel finds nothing.
	if _, resp, err := websocket.Dial(ctx, base+connectURL("", [3]byte(rid), tid), nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("second client: %v", err)
	}
}
