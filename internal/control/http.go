package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/keystore"
)

// Files in the store directory.
const (
	// SocketName is the control socket, 0600.
	SocketName = "control.sock"
	// TCPFileName records the TCP address and bearer token when the API
	// also listens on TCP (vauth run --control-tcp), 0600.
	TCPFileName = "control-tcp.json"
)

// Limits of what a request may carry or ask for.
const (
	maxBody      = 64 << 10 // a PKCS#8 key and a few names fit many times over
	maxWait      = 5 * time.Minute
	maxEvents    = 1000
	readTimeout  = 10 * time.Second
	writeTimeout = maxWait + 10*time.Second // a long-poll answers within maxWait
)

// TCPEndpoint is the content of TCPFileName: where the TCP listener is and
// the bearer token it wants.
type TCPEndpoint struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// Handler serves the API. With a non-empty token every request must carry
// "Authorization: Bearer <token>" (the TCP listener); the Unix socket's
// permissions guard it instead.
func (s *Server) Handler(token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			v, err := h(w, r)
			if err != nil {
				code := statusCode(err)
				log.Debug("control API request failed", "request", pattern, "status", code, "err", err)
				body := Error{Error: err.Error()}
				var se *ctap2.StatusError
				if errors.As(err, &se) {
					body.CTAPStatus = uint8(se.Status)
				}
				writeJSON(w, code, body)
				return
			}
			switch v.(type) {
			case nil:
				w.WriteHeader(http.StatusNoContent)
				return
			case streamed: // the handler has answered
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	route("GET /v1/info", func(http.ResponseWriter, *http.Request) (any, error) { return s.Info(), nil })
	s.algorithmRoutes(route)
	route("POST /v1/credentials", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var c Credential
		if err := readJSON(r, &c); err != nil {
			return nil, err
		}
		return s.AddCredential(c)
	})
	route("GET /v1/credentials", func(http.ResponseWriter, *http.Request) (any, error) {
		cs, err := s.Credentials()
		return Credentials{Credentials: cs}, err
	})
	route("DELETE /v1/credentials/{id}", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		id, err := credentialID(r)
		if err != nil {
			return nil, err
		}
		return nil, s.RemoveCredential(id)
	})
	route("PATCH /v1/credentials/{id}", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		id, err := credentialID(r)
		if err != nil {
			return nil, err
		}
		var u UpdateUser
		if err := readJSON(r, &u); err != nil {
			return nil, err
		}
		return nil, s.UpdateUser(id, u)
	})
	route("DELETE /v1/credentials", func(http.ResponseWriter, *http.Request) (any, error) { return nil, s.RemoveAllCredentials() })
	route("POST /v1/uv", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var v UserVerified
		if err := readJSON(r, &v); err != nil {
			return nil, err
		}
		return nil, s.SetUserVerified(v.IsUserVerified)
	})
	route("GET /v1/presence", func(http.ResponseWriter, *http.Request) (any, error) { return s.Presence(), nil })
	route("POST /v1/presence/policy", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var p SetPolicy
		if err := readJSON(r, &p); err != nil {
			return nil, err
		}
		return nil, s.SetPolicy(p.Kind, p.Policy)
	})
	for verb, approve := range map[string]bool{"approve": true, "deny": false} {
		route("POST /v1/presence/"+verb, func(_ http.ResponseWriter, r *http.Request) (any, error) {
			var a Answer
			if err := readJSON(r, &a); err != nil {
				return nil, err
			}
			if a.Wait < 0 || time.Duration(a.Wait) > maxWait {
				return nil, fmt.Errorf("%w: wait must be 0 to %v", ErrInvalid, maxWait)
			}
			return s.Answer(r.Context(), a, approve)
		})
	}
	route("GET /v1/pin", func(http.ResponseWriter, *http.Request) (any, error) { return s.PIN(), nil })
	route("POST /v1/pin", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var c PINChange
		if err := readJSON(r, &c); err != nil {
			return nil, err
		}
		return nil, s.SetPIN(c)
	})
	route("POST /v1/pin/change", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var c ChangePIN
		if err := readJSON(r, &c); err != nil {
			return nil, err
		}
		return nil, s.ChangePIN(r.Context(), c.CurrentPIN, c.NewPIN)
	})
	route("POST /v1/reset", func(http.ResponseWriter, *http.Request) (any, error) { return nil, s.Reset() })
	route("POST /v1/power-cycle", func(http.ResponseWriter, *http.Request) (any, error) { return nil, s.PowerCycle() })
	route("GET /v1/faults", func(http.ResponseWriter, *http.Request) (any, error) { return s.Faults(), nil })
	route("POST /v1/faults", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var f Faults
		if err := readJSON(r, &f); err != nil {
			return nil, err
		}
		return nil, s.SetFaults(f)
	})
	route("GET /v1/events", s.serveEvents)
	s.metadataRoutes(route)

	if token == "" {
		return mux
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !public(r) && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vauth"`)
			writeJSON(w, http.StatusUnauthorized, Error{Error: "a bearer token is required (see " + TCPFileName + " in the store directory)"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// credentialID is the {id} of the request's path, in base64url.
func credentialID(r *http.Request) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.PathValue("id"), "="))
	if err != nil {
		return nil, fmt.Errorf("%w: credential ID: %v", ErrInvalid, err)
	}
	return id, nil
}

// streamed is what a handler returns when it wrote its answer itself.
type streamed struct{}

// serveEvents is the events long-poll (GET /v1/events?since=N&wait=30s&limit=N)
// or, when the client accepts text/event-stream, a stream of server-sent
// events until it goes away.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	var since uint64
	var wait time.Duration
	limit := maxEvents
	var err error
	if v := q.Get("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: since=%q", ErrInvalid, v)
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > maxWait {
			return nil, fmt.Errorf("%w: wait=%q: want a duration of 0 to %v", ErrInvalid, v, maxWait)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxEvents {
			return nil, fmt.Errorf("%w: limit=%q: want 1 to %d", ErrInvalid, v, maxEvents)
		}
	}
	if r.Header.Get("Accept") != "text/event-stream" {
		return s.Events(r.Context(), since, limit, wait), nil
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return nil, errors.New("streaming is not supported here")
	}
	// The stream outlives the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for r.Context().Err() == nil {
		events, next := s.events.wait(r.Context(), since, limit)
		since = next
		for _, e := range events {
			data, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data); err != nil {
				return streamed{}, nil
			}
		}
		flusher.Flush()
	}
	return streamed{}, nil
}

// statusCode is the HTTP status of an operation's error.
func statusCode(err error) int {
	var se *ctap2.StatusError
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), errors.Is(err, keystore.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrUnsupported):
		return http.StatusNotImplemented
	case errors.As(err, &se):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", ErrInvalid, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, maxBody)
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ListenUnix listens on the control socket in the store directory, 0600,
// replacing a stale one: the store is locked, so no other daemon of this
// store is running.
func ListenUnix(store string) (net.Listener, error) {
	path := filepath.Join(store, SocketName)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

// ListenTCP listens on addr, which must be a loopback address, makes a
// random bearer token and records both in the store directory
// (TCPFileName, 0600).
func ListenTCP(store, addr string) (net.Listener, TCPEndpoint, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, TCPEndpoint{}, fmt.Errorf("--control-tcp %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, TCPEndpoint{}, fmt.Errorf("--control-tcp %q: the control API listens on a loopback address only (127.0.0.1 or [::1])", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, TCPEndpoint{}, fmt.Errorf("control API: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		l.Close()
		return nil, TCPEndpoint{}, err
	}
	ep := TCPEndpoint{URL: "http://" + l.Addr().String(), Token: base64.RawURLEncoding.EncodeToString(secret)}
	data, _ := json.MarshalIndent(ep, "", "  ")
	path := filepath.Join(store, TCPFileName)
	os.Remove(path) // so that the mode of a new file applies
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		l.Close()
		return nil, TCPEndpoint{}, fmt.Errorf("control API token: %w", err)
	}
	return l, ep, nil
}

// Serve serves the API on l until ctx ends; token as Handler says.
func (s *Server) Serve(ctx context.Context, l net.Listener, token string, log *slog.Logger) error {
	hs := &http.Server{
		Handler:           s.Handler(token, log),
		ReadHeaderTimeout: readTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			hs.Close()
		case <-done:
		}
	}()
	err := hs.Serve(l)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
