package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// Client calls the control API of a running vauth. Its methods are the
// Server's operations.
type Client struct {
	base  string // e.g. "http://vauth" for the socket
	token string
	http  *http.Client
}

// Dial returns a client for the daemon serving the store in dir, through
// its control socket. It fails when no daemon serves the store.
func Dial(dir string) (*Client, error) {
	path := filepath.Join(dir, SocketName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no vauth is running on the store %s (no %s): start one with `vauth run --store %s`", dir, SocketName, dir)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{base: "http://vauth", http: &http.Client{Transport: tr}}, nil
}

// DialTCP returns a client for the API at url (http://127.0.0.1:PORT) with
// the bearer token.
func DialTCP(url, token string) *Client {
	return &Client{base: strings.TrimRight(url, "/"), token: token, http: &http.Client{}}
}

// ReadTCPEndpoint reads the TCP address and token that a daemon with
// --control-tcp recorded in its store directory.
func ReadTCPEndpoint(dir string) (TCPEndpoint, error) {
	var ep TCPEndpoint
	data, err := os.ReadFile(filepath.Join(dir, TCPFileName))
	if err != nil {
		return ep, err
	}
	if err := json.Unmarshal(data, &ep); err != nil {
		return ep, fmt.Errorf("%s: %w", TCPFileName, err)
	}
	return ep, nil
}

// APIError is an error answer of the API.
type APIError struct {
	StatusCode int    // the HTTP status
	Message    string // what the server said
	// CTAPStatus is the CTAP status the authenticator refused with; 0 for
	// other errors.
	CTAPStatus ctap2.Status
}

func (e *APIError) Error() string { return e.Message }

// Unwrap gives the authenticator's refusal as a *ctap2.StatusError, so
// that errors.As finds its status as it would over CTAP.
func (e *APIError) Unwrap() error {
	if e.CTAPStatus == ctap2.CTAP2OK {
		return nil
	}
	return &ctap2.StatusError{Status: e.CTAPStatus}
}

// Is makes errors.Is match the operations' errors by HTTP status, as the
// server maps them.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.StatusCode == http.StatusBadRequest
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnsupported:
		return e.StatusCode == http.StatusNotImplemented
	}
	return false
}

// call sends a request with an optional JSON body and decodes the answer
// into out when it is not nil.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.do(ctx, method, path, body, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control API %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// do sends a request and returns a successful response, or the API's
// error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("control API: %w", err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &APIError{StatusCode: resp.StatusCode, Message: e.Error, CTAPStatus: ctap2.Status(e.CTAPStatus)}
	}
	return resp, nil
}

// Info describes the authenticator.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var v Info
	return v, c.call(ctx, http.MethodGet, "/v1/info", nil, &v)
}

// AddCredential imports a credential (WebDriver's Add Credential) and
// returns it with its ID.
func (c *Client) AddCredential(ctx context.Context, cred Credential) (Credential, error) {
	var v Credential
	return v, c.call(ctx, http.MethodPost, "/v1/credentials", cred, &v)
}

// Credentials lists the discoverable credentials (Get Credentials).
func (c *Client) Credentials(ctx context.Context) ([]Credential, error) {
	var v Credentials
	return v.Credentials, c.call(ctx, http.MethodGet, "/v1/credentials", nil, &v)
}

// RemoveCredential deletes a discoverable credential (Remove Credential).
func (c *Client) RemoveCredential(ctx context.Context, id []byte) error {
	return c.call(ctx, http.MethodDelete, "/v1/credentials/"+base64.RawURLEncoding.EncodeToString(id), nil, nil)
}

// UpdateUser renames the user of a discoverable credential
// (updateUserInformation); nil names stay as they are.
func (c *Client) UpdateUser(ctx context.Context, id []byte, u UpdateUser) error {
	return c.call(ctx, http.MethodPatch, "/v1/credentials/"+base64.RawURLEncoding.EncodeToString(id), u, nil)
}

// RemoveAllCredentials deletes every discoverable credential (Remove All
// Credentials).
func (c *Client) RemoveAllCredentials(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/v1/credentials", nil, nil)
}

// SetUserVerified sets whether built-in user verification succeeds (Set
// User Verified).
func (c *Client) SetUserVerified(ctx context.Context, verified bool) error {
	return c.call(ctx, http.MethodPost, "/v1/uv", UserVerified{IsUserVerified: verified}, nil)
}

// Presence returns the policies and the pending requests.
func (c *Client) Presence(ctx context.Context) (PresenceState, error) {
	var v PresenceState
	return v, c.call(ctx, http.MethodGet, "/v1/presence", nil, &v)
}

// SetPolicy sets the policy of user presence (KindPresence) or built-in
// user verification (KindUV).
func (c *Client) SetPolicy(ctx context.Context, kind string, p Policy) error {
	return c.call(ctx, http.MethodPost, "/v1/presence/policy", SetPolicy{Kind: kind, Policy: p}, nil)
}

// Answer approves or denies a pending request and returns it.
func (c *Client) Answer(ctx context.Context, a Answer, approve bool) (PendingRequest, error) {
	verb := map[bool]string{true: "approve", false: "deny"}[approve]
	var v PendingRequest
	return v, c.call(ctx, http.MethodPost, "/v1/presence/"+verb, a, &v)
}

// PIN returns the PIN state.
func (c *Client) PIN(ctx context.Context) (PINState, error) {
	var v PINState
	return v, c.call(ctx, http.MethodGet, "/v1/pin", nil, &v)
}

// SetPIN changes the PIN state.
func (c *Client) SetPIN(ctx context.Context, ch PINChange) error {
	return c.call(ctx, http.MethodPost, "/v1/pin", ch, nil)
}

// ChangePIN changes the PIN given the current one, as clientPIN's
// changePIN does; the authenticator's refusal (a wrong current PIN, a
// blocked PIN) unwraps to a *ctap2.StatusError.
func (c *Client) ChangePIN(ctx context.Context, currentPIN, newPIN string) error {
	return c.call(ctx, http.MethodPost, "/v1/pin/change", ChangePIN{CurrentPIN: currentPIN, NewPIN: newPIN}, nil)
}

// Reset erases the authenticator.
func (c *Client) Reset(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/reset", nil, nil)
}

// PowerCycle power-cycles the authenticator.
func (c *Client) PowerCycle(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/power-cycle", nil, nil)
}

// Faults returns the armed faults.
func (c *Client) Faults(ctx context.Context) (Faults, error) {
	var v Faults
	return v, c.call(ctx, http.MethodGet, "/v1/faults", nil, &v)
}

// SetFaults arms faults, replacing what was armed.
func (c *Client) SetFaults(ctx context.Context, f Faults) error {
	return c.call(ctx, http.MethodPost, "/v1/faults", f, nil)
}

// Events returns the events after seq, waiting up to wait for one.
func (c *Client) Events(ctx context.Context, seq uint64, wait time.Duration) (Events, error) {
	q := url.Values{"since": {strconv.FormatUint(seq, 10)}, "wait": {wait.String()}}
	var v Events
	return v, c.call(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, &v)
}

// Watch streams the events after seq (server-sent events) to fn until ctx
// ends, fn returns an error, or the daemon goes away.
func (c *Client) Watch(ctx context.Context, seq uint64, fn func(Event) error) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/events?since="+strconv.FormatUint(seq, 10), nil, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxBody)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("control API event stream: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("control API event stream: %w", err)
	}
	return nil
}
