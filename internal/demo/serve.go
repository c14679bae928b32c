package demo

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"sync"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/attestation"
)

//go:embed web
var web embed.FS

// Limits of the web relying party, which anyone on the machine can call.
const (
	maxSessions = 1000    // ceremonies begun and not finished; the oldest go first
	maxUsers    = 1000    // accounts
	maxBody     = 1 << 16 // a response of a registration fits many times over
	sessionTTL  = 5 * time.Minute
)

// Server is the demo relying party as a web site (`vauth demo --serve`):
// a page that registers and signs in with navigator.credentials, and the
// JSON API it calls, verifying with go-webauthn. Accounts live in memory.
type Server struct {
	rp  *RP
	log io.Writer // registration log lines

	mu       sync.Mutex
	users    map[string]*User // by name
	sessions map[string]*pending
	order    []string // session IDs, oldest first
}

// pending is a ceremony begun and not yet finished.
type pending struct {
	session  *gowebauthn.SessionData
	user     *User // nil for a passkey sign-in
	register bool
	begun    time.Time
}

// NewServer makes the web relying party for origin, e.g.
// "http://localhost:8080": its RP ID is the origin's host.
func NewServer(origin string) (*Server, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("demo: bad origin %q", origin)
	}
	rp, err := NewRP(u.Hostname(), origin)
	if err != nil {
		return nil, err
	}
	rp.Policy = &Policy{}
	return &Server{rp: rp, log: io.Discard, users: map[string]*User{}, sessions: map[string]*pending{}}, nil
}

// SetPolicy sets the registration policy (which the page can change), the
// metadata trusted when it enforces attestation, and where registration
// log lines go.
func (s *Server) SetPolicy(p Policy, src MetadataSource, log io.Writer) error {
	if err := p.Normalize(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rp.Policy, s.rp.Metadata, s.log = &p, src, log
	return nil
}

// Handler serves the page and its API:
//
//	POST /api/register/begin   {"username"}  → {"session", "options": {"publicKey": …}}
//	POST /api/register/finish?session=ID   the credential's toJSON() → what was registered
//	POST /api/login/begin      {"username"} (empty: a passkey) → {"session", "options"}
//	POST /api/login/finish?session=ID      the credential's toJSON() → who signed in
//	GET  /api/policy, POST /api/policy     the registration Policy
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.Sub(web, "web")
	mux.Handle("GET /", http.FileServerFS(page))
	mux.HandleFunc("POST /api/register/begin", s.api(s.registerBegin))
	mux.HandleFunc("POST /api/register/finish", s.api(s.registerFinish))
	mux.HandleFunc("POST /api/login/begin", s.api(s.loginBegin))
	mux.HandleFunc("POST /api/login/finish", s.api(s.loginFinish))
	mux.HandleFunc("GET /api/policy", s.api(s.policy))
	mux.HandleFunc("POST /api/policy", s.api(s.setPolicy))
	return mux
}

// BeginResponse starts a ceremony: the options for navigator.credentials
// and the session to finish it with.
type BeginResponse struct {
	Session string `json:"session"`
	Options any    `json:"options"`
}

// Registered is what a finished registration reports.
type Registered struct {
	Username     string   `json:"username"`
	CredentialID string   `json:"credentialId"`
	AAGUID       string   `json:"aaguid"`
	Attestation  string   `json:"attestation"`
	Flags        []string `json:"flags"`
	SignCount    uint32   `json:"signCount"`
}

// SignedIn is what a finished sign-in reports.
type SignedIn struct {
	Username     string   `json:"username"`
	CredentialID string   `json:"credentialId"`
	Flags        []string `json:"flags"`
	SignCount    uint32   `json:"signCount"`
}

type beginRequest struct {
	Username string `json:"username"`
}

// api adapts a handler of the JSON API: the body in, a JSON answer or a
// 400 with {"error"} out.
func (s *Server) api(h func(r *http.Request, body []byte) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err == nil && len(body) > maxBody {
			err = errors.New("request too large")
		}
		var v any
		if err == nil {
			v, err = h(r, body)
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			v = map[string]string{"error": describe(err).Error()}
		}
		_ = json.NewEncoder(w).Encode(v)
	}
}

func (s *Server) registerBegin(_ *http.Request, body []byte) (any, error) {
	var req beginRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Username == "" || len(req.Username) > 64 {
		return nil, errors.New("want {\"username\": a name of 1 to 64 bytes}")
	}
	s.mu.Lock()
	u := s.users[req.Username]
	var exclude []protocol.CredentialDescriptor
	if u != nil {
		exclude = gowebauthn.Credentials(u.Credentials).CredentialDescriptors()
	}
	s.mu.Unlock()
	if u == nil {
		u = &User{ID: make([]byte, 16), Name: req.Username, DisplayName: req.Username}
		if _, err := rand.Read(u.ID); err != nil {
			return nil, err
		}
	}
	creation, session, err := s.rp.WebAuthn.BeginRegistration(u,
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		gowebauthn.WithExclusions(exclude),
		gowebauthn.WithExtensions(gowebauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, err
	}
	return BeginResponse{Session: s.remember(&pending{session: session, user: u, register: true}), Options: creation}, nil
}

func (s *Server) registerFinish(r *http.Request, body []byte) (any, error) {
	p, err := s.take(r, true)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch existing := s.users[p.user.Name]; {
	case existing != nil && existing != p.user:
		return nil, errors.New("the account was registered meanwhile: begin again")
	case existing == nil && len(s.users) >= maxUsers:
		return nil, errors.New("the demo holds as many accounts as it will")
	}
	var aaguid [16]byte
	copy(aaguid[:], parsed.Response.AttestationObject.AuthData.AttData.AAGUID)
	cred, err := s.rp.verify(r.Context(), p.user, *p.session, parsed)
	LogRegistration(s.log, p.user.Name, attestation.FormatAAGUID(aaguid), err)
	if err != nil {
		return nil, err
	}
	p.user.Credentials = append(p.user.Credentials, *cred)
	s.users[p.user.Name] = p.user
	s.rp.Enroll(p.user)
	return Registered{
		Username:     p.user.Name,
		CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID),
		AAGUID:       attestation.FormatAAGUID(aaguid),
		Attestation:  fmt.Sprintf("%s (%s)", cred.AttestationFormat, cred.AttestationType),
		Flags:        flagNames(parsed.Response.AttestationObject.AuthData.Flags),
		SignCount:    cred.Authenticator.SignCount,
	}, nil
}

func (s *Server) policy(*http.Request, []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rp.Policy, nil
}

func (s *Server) setPolicy(_ *http.Request, body []byte) (any, error) {
	var p Policy
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, errors.New(`want {"enforceAttestation": bool, "allowAaguids": [...], "blockAaguids": [...]}`)
	}
	if err := p.Normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.EnforceAttestation && s.rp.Metadata == nil {
		return nil, errors.New("no metadata to enforce attestation with")
	}
	s.rp.Policy = &p
	return &p, nil
}

func (s *Server) loginBegin(_ *http.Request, body []byte) (any, error) {
	var req beginRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errors.New("want {\"username\": a name, or \"\" for a passkey}")
	}
	var (
		assertion *protocol.CredentialAssertion
		session   *gowebauthn.SessionData
		u         *User
		err       error
	)
	if req.Username == "" {
		assertion, session, err = s.rp.WebAuthn.BeginDiscoverableLogin()
	} else {
		s.mu.Lock()
		u = s.users[req.Username]
		s.mu.Unlock()
		if u == nil {
			return nil, fmt.Errorf("no account %q: register first", req.Username)
		}
		assertion, session, err = s.rp.WebAuthn.BeginLogin(u)
	}
	if err != nil {
		return nil, err
	}
	return BeginResponse{Session: s.remember(&pending{session: session, user: u}), Options: assertion}, nil
}

func (s *Server) loginFinish(r *http.Request, body []byte) (any, error) {
	p, err := s.take(r, false)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	s.mu.Lock() // the accounts' counters change
	defer s.mu.Unlock()
	u := p.user
	var cred *gowebauthn.Credential
	if u == nil {
		var found gowebauthn.User
		found, cred, err = s.rp.WebAuthn.ValidatePasskeyLogin(s.rp.byHandle, *p.session, parsed)
		if err == nil {
			u = found.(*User)
		}
	} else {
		cred, err = s.rp.WebAuthn.ValidateLogin(u, *p.session, parsed)
	}
	if err != nil {
		return nil, err
	}
	if cred.Authenticator.CloneWarning {
		return nil, errors.New("the signature counter went back: a cloned key?")
	}
	for i := range u.Credentials {
		if bytes.Equal(u.Credentials[i].ID, cred.ID) {
			u.Credentials[i].Authenticator.SignCount = cred.Authenticator.SignCount
		}
	}
	return SignedIn{
		Username:     u.Name,
		CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID),
		Flags:        flagNames(parsed.Response.AuthenticatorData.Flags),
		SignCount:    cred.Authenticator.SignCount,
	}, nil
}

// remember keeps a ceremony's session under a new random ID, dropping the
// oldest beyond maxSessions.
func (s *Server) remember(p *pending) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	p.begun = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) >= maxSessions {
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	s.sessions[id] = p
	s.order = append(s.order, id)
	return id
}

// take removes and returns the session the request names; each finishes
// one ceremony once.
func (s *Server) take(r *http.Request, register bool) (*pending, error) {
	id := r.URL.Query().Get("session")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.sessions[id]
	if p == nil || p.register != register || time.Since(p.begun) > sessionTTL {
		return nil, errors.New("no such ceremony in progress: begin again")
	}
	delete(s.sessions, id)
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return p, nil
}

func flagNames(f protocol.AuthenticatorFlags) []string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{f.HasUserPresent(), "UP"}, {f.HasUserVerified(), "UV"}, {f.HasBackupEligible(), "BE"}, {f.HasBackupState(), "BS"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}
