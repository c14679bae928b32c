// Package demo runs WebAuthn ceremonies end to end: a real relying party
// (go-webauthn, in-process) asks, the webauthn client plays the browser, and
// the authenticator answers through CTAPHID. `vauth demo` prints what
// happened; tests use the same relying party to verify every registration
// and assertion vauth produces.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/webauthn"
)

// User is an account at the relying party.
type User struct {
	ID          []byte
	Name        string
	DisplayName string
	Credentials []gowebauthn.Credential
}

// WebAuthnID implements go-webauthn's User.
func (u *User) WebAuthnID() []byte { return u.ID }

// WebAuthnName implements go-webauthn's User.
func (u *User) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName implements go-webauthn's User.
func (u *User) WebAuthnDisplayName() string { return u.DisplayName }

// WebAuthnCredentials implements go-webauthn's User.
func (u *User) WebAuthnCredentials() []gowebauthn.Credential { return u.Credentials }

// RP is a relying party with its accounts in memory.
type RP struct {
	WebAuthn *gowebauthn.WebAuthn
	// Policy, when set, decides registrations (Policy); Metadata is the
	// metadata it trusts when it enforces attestation.
	Policy   *Policy
	Metadata MetadataSource
	users    []*User
}

// NewRP makes a relying party for rpID that accepts origin.
func NewRP(rpID, origin string) (*RP, error) {
	w, err := gowebauthn.New(&gowebauthn.Config{RPID: rpID, RPDisplayName: "vauth demo", RPOrigins: []string{origin}})
	if err != nil {
		return nil, err
	}
	return &RP{WebAuthn: w}, nil
}

// Register runs a registration ceremony for u and, when the relying party
// verifies it, adds the credential to u.
func (rp *RP) Register(ctx context.Context, c *webauthn.Client, u *User, opts ...gowebauthn.RegistrationOption) (*gowebauthn.Credential, error) {
	creation, session, err := rp.WebAuthn.BeginRegistration(u, opts...)
	if err != nil {
		return nil, err
	}
	options, err := roundTrip[webauthn.CreationOptions](creation)
	if err != nil {
		return nil, err
	}
	resp, err := c.Create(ctx, options)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("relying party rejected the registration response: %w", describe(err))
	}
	cred, err := rp.verify(ctx, u, *session, parsed)
	var refused *Refusal
	if errors.As(err, &refused) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("relying party rejected the registration: %w", describe(err))
	}
	u.Credentials = append(u.Credentials, *cred)
	if !rp.known(u) {
		rp.users = append(rp.users, u)
	}
	return cred, nil
}

// Login runs an authentication ceremony: for u with its credentials in
// allowCredentials, or, when u is nil, with a discoverable credential (the
// passkey flow). It returns the user signed in and the updated credential.
func (rp *RP) Login(ctx context.Context, c *webauthn.Client, u *User, opts ...gowebauthn.LoginOption) (*User, *gowebauthn.Credential, error) {
	var (
		assertion *protocol.CredentialAssertion
		session   *gowebauthn.SessionData
		err       error
	)
	if u == nil {
		assertion, session, err = rp.WebAuthn.BeginDiscoverableLogin(opts...)
	} else {
		assertion, session, err = rp.WebAuthn.BeginLogin(u, opts...)
	}
	if err != nil {
		return nil, nil, err
	}
	options, err := roundTrip[webauthn.RequestOptions](assertion)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Get(ctx, options)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, nil, fmt.Errorf("relying party rejected the assertion response: %w", describe(err))
	}
	var cred *gowebauthn.Credential
	if u == nil {
		var found gowebauthn.User
		found, cred, err = rp.WebAuthn.ValidatePasskeyLogin(rp.byHandle, *session, parsed)
		if err == nil {
			u = found.(*User)
		}
	} else {
		cred, err = rp.WebAuthn.ValidateLogin(u, *session, parsed)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("relying party rejected the assertion: %w", describe(err))
	}
	for i := range u.Credentials { // what a relying party stores after each login
		if string(u.Credentials[i].ID) == string(cred.ID) {
			u.Credentials[i].Authenticator.SignCount = cred.Authenticator.SignCount
		}
	}
	return u, cred, nil
}

// Enroll adds an account whose credentials the relying party learnt
// elsewhere (imported into the authenticator through the control API), so
// that it can sign in, by username or with a passkey.
func (rp *RP) Enroll(u *User) {
	if !rp.known(u) {
		rp.users = append(rp.users, u)
	}
}

func (rp *RP) known(u *User) bool {
	for _, v := range rp.users {
		if v == u {
			return true
		}
	}
	return false
}

func (rp *RP) byHandle(rawID, userHandle []byte) (gowebauthn.User, error) {
	for _, u := range rp.users {
		if string(u.ID) == string(userHandle) {
			return u, nil
		}
	}
	return nil, errors.New("no account with that user handle")
}

// roundTrip sends v through JSON, as options travel from server to page.
func roundTrip[T any](v any) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var wrapper struct {
		PublicKey T `json:"publicKey"`
	}
	if err := json.Unmarshal(b, &wrapper); err != nil {
		return nil, err
	}
	return &wrapper.PublicKey, nil
}

// describe adds go-webauthn's detail, which its errors keep apart from the
// message.
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return err
}
