package webauthn

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
)

// defaultTimeout applies when the RP gives none, as browsers pick one.
const defaultTimeout = 5 * time.Minute

// Client plays the browser's part for one origin against one authenticator.
// It is safe for use by one goroutine at a time, like the authenticator
// connection under it.
type Client struct {
	ctap *client.Client
	// Origin is the page's origin, e.g. "https://example.com".
	Origin string
	// SelectAccount picks among several discoverable credentials, as a
	// browser's account chooser does; nil picks the first (the newest).
	SelectAccount func(users []UserEntity) int
	// PIN is the authenticator's PIN, what a user would type into the
	// browser's PIN dialog. It verifies the user when the relying party
	// asks for user verification (or the authenticator insists on it) and
	// the authenticator has a PIN but no built-in user verification. Empty
	// means there is none to give.
	PIN string
	// EnterpriseRPIDs are the RP IDs that this platform's enterprise policy
	// allows enterprise attestation for: an attestation "enterprise"
	// request for one of them asks for platform-managed enterprise
	// attestation, for any other RP for vendor-facilitated (which the
	// authenticator grants only to the RPs on its own list).
	EnterpriseRPIDs []string
}

// NewClient returns a client for origin talking CTAP2 to a (a *hid.Client
// on any transport).
func NewClient(a client.Authenticator, origin string) *Client {
	return &Client{ctap: client.New(a), Origin: origin}
}

// getInfo asks the authenticator for its current getInfo, as browsers do
// per ceremony: clientPin and alwaysUv change.
func (c *Client) getInfo(ctx context.Context) (*client.Info, error) {
	return c.ctap.GetInfo(ctx)
}

// userVerification decides how a ceremony verifies the user, as browsers
// do: when the relying party asks for it ("required", "preferred") or the
// authenticator insists (alwaysUv, a discoverable credential on an
// authenticator with a PIN or built-in verification), with built-in user
// verification if the authenticator has it, else with the PIN if it has
// one and the client knows it. It returns the pinUvAuthToken to use, or
// uvOption for a CTAP 2.0 authenticator's built-in verification ("uv"
// option); neither when the user is not verified.
func (c *Client) userVerification(ctx context.Context, inf *client.Info, requirement string, insist bool, permission pinuv.Permission, rpID string) (tok *client.Token, uvOption bool, err error) {
	if requirement != "required" && requirement != "preferred" && !insist {
		return nil, false, nil
	}
	tokens := inf.Options["pinUvAuthToken"]
	switch {
	case inf.Options["uv"] && tokens:
		tok, err = c.ctap.GetPinUvAuthTokenUsingUV(ctx, 0, permission, rpID)
	case inf.Options["uv"]:
		return nil, true, nil
	case inf.Options["clientPin"] && c.PIN != "" && tokens:
		tok, err = c.ctap.GetPinUvAuthTokenUsingPIN(ctx, 0, c.PIN, permission, rpID)
	case inf.Options["clientPin"] && c.PIN != "":
		tok, err = c.ctap.GetPinToken(ctx, 0, c.PIN)
	case requirement == "required" || insist:
		msg := "user verification required but the authenticator cannot verify the user"
		if inf.Options["clientPin"] {
			msg = "user verification required: the authenticator has a PIN and the client none (Client.PIN)"
		}
		return nil, false, &Error{Name: NotAllowedError, Message: msg}
	}
	if err != nil {
		return nil, false, ctapError(err)
	}
	return tok, false, nil
}

// clientData is CollectedClientData, serialised with the members in the
// order browsers use.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

func (c *Client) clientDataJSON(typ string, challenge []byte) ([]byte, [32]byte) {
	b, _ := json.Marshal(clientData{Type: typ, Challenge: base64.RawURLEncoding.EncodeToString(challenge), Origin: c.Origin})
	return b, sha256.Sum256(b)
}

func withTimeout(ctx context.Context, ms int) (context.Context, context.CancelFunc) {
	d := defaultTimeout
	if ms > 0 {
		d = time.Duration(ms) * time.Millisecond
	}
	return context.WithTimeout(ctx, d)
}

// Create runs navigator.credentials.create() for opts.
func (c *Client) Create(ctx context.Context, opts *CreationOptions) (*RegistrationCredential, error) {
	rpID, err := checkRPID(c.Origin, opts.RP.ID)
	if err != nil {
		return nil, err
	}
	if len(opts.User.ID) < 1 || len(opts.User.ID) > 64 {
		return nil, &Error{Name: TypeError, Message: "user.id must be 1 to 64 bytes"}
	}
	if len(opts.Challenge) == 0 {
		return nil, &Error{Name: TypeError, Message: "challenge is empty"}
	}
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	inf, err := c.getInfo(ctx)
	if err != nil {
		return nil, ctapError(err)
	}
	sel := AuthenticatorSelection{}
	if opts.AuthenticatorSelection != nil {
		sel = *opts.AuthenticatorSelection
	}
	if sel.AuthenticatorAttachment == "platform" {
		return nil, &Error{Name: NotAllowedError, Message: "no platform authenticator"}
	}
	rk, err := residentKey(sel, inf)
	if err != nil {
		return nil, err
	}
	ext := &registration{}
	if err := parseExtensions(opts.Extensions, &ext.in); err != nil {
		return nil, err
	}
	protected := inf.Options["clientPin"] || inf.Options["uv"]
	// Without makeCredUvNotRqd (a CTAP 2.0 key), a PIN once set is needed
	// for every credential (CTAP 2.0 §5.1 step 6).
	pinForAll := inf.Options["clientPin"] && !inf.Options["makeCredUvNotRqd"]
	tok, uvOption, err := c.userVerification(ctx, inf, sel.UserVerification, inf.Options["alwaysUv"] || (rk && protected) || pinForAll, pinuv.PermissionMC, rpID)
	if err != nil {
		return nil, err
	}

	params := make([]client.Algorithm, 0, len(opts.PubKeyCredParams))
	for _, p := range opts.PubKeyCredParams {
		if p.Type == "public-key" {
			params = append(params, client.Algorithm{Alg: p.Alg, Type: p.Type})
		}
	}
	if len(opts.PubKeyCredParams) == 0 { // the browser default: ES256, RS256
		params = []client.Algorithm{{Alg: cose.AlgES256, Type: "public-key"}, {Alg: cose.AlgRS256, Type: "public-key"}}
	} else if len(params) == 0 {
		return nil, &Error{Name: NotSupportedError, Message: "no supported credential type in pubKeyCredParams"}
	}
	cdj, cdh := c.clientDataJSON("webauthn.create", opts.Challenge)
	req := &client.MakeCredentialRequest{
		ClientDataHash:   cdh[:],
		RP:               client.RPEntity{ID: rpID, Name: opts.RP.Name},
		User:             client.UserEntity{ID: opts.User.ID, Name: opts.User.Name, DisplayName: opts.User.DisplayName},
		PubKeyCredParams: params,
		ExcludeList:      descriptors(opts.ExcludeCredentials),
	}
	if rk || uvOption {
		req.Options = map[string]bool{}
	}
	if rk {
		req.Options["rk"] = true
	}
	if uvOption {
		req.Options["uv"] = true
	}
	if tok != nil {
		req.PinUvAuthParam, req.PinUvAuthProto = tok.Param(cdh[:]), tok.ProtocolVersion()
	}
	if opts.Attestation == "enterprise" && inf.Options["ep"] {
		req.EnterpriseAttestation = enterpriseAttestationVendorFacilitated
		if slices.Contains(c.EnterpriseRPIDs, rpID) {
			req.EnterpriseAttestation = enterpriseAttestationPlatformManaged
		}
	}
	if req.Extensions, err = ext.authenticatorInputs(ctx, c, inf); err != nil {
		return nil, err
	}
	resp, err := c.ctap.MakeCredential(ctx, req)
	if err != nil {
		return nil, ctapError(err)
	}
	ad, err := client.ParseAuthData(resp.AuthData)
	if err == nil && ad.Flags&client.FlagAT == 0 {
		err = errors.New("no attested credential data")
	}
	if err != nil {
		return nil, &Error{Name: UnknownError, Message: "authenticator returned bad data", Err: err}
	}
	id := ad.CredentialID
	key, err := cose.Parse(ad.PublicKey)
	if err != nil {
		return nil, &Error{Name: UnknownError, Message: "authenticator returned a bad public key", Err: err}
	}
	results, err := ext.results(ad, resp, rk)
	if err != nil {
		return nil, &Error{Name: UnknownError, Message: "authenticator returned bad extension outputs", Err: err}
	}
	ao := attestationObject{Fmt: resp.Fmt, AttStmt: resp.AttStmt, AuthData: resp.AuthData}
	if opts.Attestation == "" || opts.Attestation == "none" {
		// Attestation conveyance "none": the RP gets no statement. The AAGUID
		// stays, as current browsers leave it.
		ao.Fmt, ao.AttStmt = "none", cbor.RawMessage{0xa0}
	}
	aoBytes, err := encMode.Marshal(ao)
	if err != nil {
		return nil, err
	}
	var spki []byte
	if pub, err := key.PublicKey(); err == nil {
		// getPublicKey() is the SubjectPublicKeyInfo, for secp256k1 too
		// (WebAuthn §5.2.1.1 leaves it null only where the client cannot
		// encode the key).
		spki, _ = cose.MarshalPKIX(pub)
	}
	return &RegistrationCredential{
		ID:    base64.RawURLEncoding.EncodeToString(id),
		RawID: id,
		Response: AttestationResponse{
			ClientDataJSON:     cdj,
			AuthenticatorData:  resp.AuthData,
			Transports:         transports(inf),
			PublicKey:          spki,
			PublicKeyAlgorithm: key.Alg,
			AttestationObject:  aoBytes,
		},
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  results,
		Type:                    "public-key",
	}, nil
}

// Kinds of enterprise attestation a registration asks for (CTAP 2.1 §7.1).
const (
	enterpriseAttestationVendorFacilitated = 1
	enterpriseAttestationPlatformManaged   = 2
)

// residentKey decides the rk option as WebAuthn §5.1.3 says.
func residentKey(sel AuthenticatorSelection, inf *client.Info) (bool, error) {
	rk := sel.ResidentKey
	if rk == "" && sel.RequireResidentKey {
		rk = "required"
	}
	switch rk {
	case "required":
		if !inf.Options["rk"] {
			return false, &Error{Name: ConstraintError, Message: "discoverable credential required but not supported"}
		}
		return true, nil
	case "preferred":
		return inf.Options["rk"], nil
	}
	return false, nil
}

// Get runs navigator.credentials.get() for opts.
func (c *Client) Get(ctx context.Context, opts *RequestOptions) (*AssertionCredential, error) {
	rpID, err := checkRPID(c.Origin, opts.RPID)
	if err != nil {
		return nil, err
	}
	if len(opts.Challenge) == 0 {
		return nil, &Error{Name: TypeError, Message: "challenge is empty"}
	}
	ext := &authentication{}
	if err := parseExtensions(opts.Extensions, &ext.in); err != nil {
		return nil, err
	}
	if err := ext.check(opts); err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	inf, err := c.getInfo(ctx)
	if err != nil {
		return nil, ctapError(err)
	}
	// Writing a large blob on an authenticator protected by user
	// verification takes a pinUvAuthToken with the lbw permission.
	permissions, insist := pinuv.PermissionGA, inf.Options["alwaysUv"]
	if ext.writesLargeBlob() && largeBlobSupported(inf) && (inf.Options["clientPin"] || inf.Options["uv"]) {
		permissions, insist = permissions|pinuv.PermissionLBW, true
	}
	tok, uvOption, err := c.userVerification(ctx, inf, opts.UserVerification, insist, permissions, rpID)
	if err != nil {
		return nil, err
	}
	cdj, cdh := c.clientDataJSON("webauthn.get", opts.Challenge)
	req := &client.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh[:], AllowList: descriptors(opts.AllowCredentials)}
	if req.Extensions, err = ext.authenticatorInputs(ctx, c, inf, opts); err != nil {
		return nil, err
	}
	if uvOption {
		req.Options = map[string]bool{"uv": true}
	}
	if tok != nil {
		req.PinUvAuthParam, req.PinUvAuthProto = tok.Param(cdh[:]), tok.ProtocolVersion()
	}
	first, err := c.ctap.GetAssertion(ctx, req)
	if err != nil {
		return nil, ctapError(err)
	}
	chosen := first
	if first.NumberOfCredentials > 1 && len(req.AllowList) == 0 {
		all := []*client.GetAssertionResponse{first}
		for i := 1; i < first.NumberOfCredentials; i++ {
			next, err := c.ctap.GetNextAssertion(ctx)
			if err != nil {
				return nil, ctapError(err)
			}
			all = append(all, next)
		}
		chosen = all[c.pick(all)]
	}
	ad, err := client.ParseAuthData(chosen.AuthData)
	if err != nil {
		return nil, &Error{Name: UnknownError, Message: "authenticator returned bad data", Err: err}
	}
	results, err := ext.results(ctx, c, ad, chosen, tok)
	if err != nil {
		return nil, &Error{Name: UnknownError, Message: "authenticator returned bad extension outputs", Err: err}
	}
	out := &AssertionCredential{
		ID:    base64.RawURLEncoding.EncodeToString(chosen.Credential.ID),
		RawID: chosen.Credential.ID,
		Response: AssertionResponse{
			ClientDataJSON:    cdj,
			AuthenticatorData: chosen.AuthData,
			Signature:         chosen.Signature,
		},
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  results,
		Type:                    "public-key",
	}
	if chosen.User != nil {
		out.Response.UserHandle = chosen.User.ID
	}
	return out, nil
}

func (c *Client) pick(all []*client.GetAssertionResponse) int {
	if c.SelectAccount == nil {
		return 0
	}
	users := make([]UserEntity, len(all))
	for i, a := range all {
		if a.User != nil {
			users[i] = UserEntity{ID: a.User.ID, Name: a.User.Name, DisplayName: a.User.DisplayName}
		}
	}
	if i := c.SelectAccount(users); i >= 0 && i < len(all) {
		return i
	}
	return 0
}

func descriptors(ds []CredentialDescriptor) []client.CredentialDescriptor {
	var out []client.CredentialDescriptor
	for _, d := range ds {
		if d.Type == "public-key" {
			out = append(out, client.CredentialDescriptor{ID: d.ID, Type: d.Type})
		}
	}
	return out
}

func transports(inf *client.Info) []string {
	if len(inf.Transports) == 0 {
		return []string{"usb"}
	}
	return inf.Transports
}

// ctapError maps an authenticator failure to the DOMException a browser
// raises for it.
func ctapError(err error) error {
	var se *ctap2.StatusError
	switch {
	case errors.As(err, &se):
		switch se.Status {
		case ctap2.CTAP2ErrCredentialExcluded:
			return &Error{Name: InvalidStateError, Message: "the authenticator already holds a credential for this account", Err: err}
		case ctap2.CTAP2ErrUnsupportedAlgorithm:
			return &Error{Name: NotSupportedError, Message: "no common algorithm", Err: err}
		case ctap2.CTAP2ErrKeyStoreFull:
			return &Error{Name: ConstraintError, Message: "the authenticator has no room for another credential", Err: err}
		}
		return &Error{Name: NotAllowedError, Message: "the operation either timed out or was not allowed", Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Name: NotAllowedError, Message: "the operation timed out or was aborted", Err: err}
	}
	return &Error{Name: UnknownError, Message: "the authenticator could not be reached", Err: err}
}
