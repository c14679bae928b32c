package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/webauthn"
)

// The JSON of the control API. Names follow the WebDriver virtual
// authenticator extension (WebAuthn §11) where it has the operation.

// Base64URL is binary data as unpadded base64url in JSON, as WebDriver's
// credential parameters carry it.
type Base64URL = webauthn.Base64URL

// Info describes the authenticator.
type Info struct {
	AAGUID string `json:"aaguid"`
	// Keystore is the backend: "soft" or "tpm" (which cannot import).
	Keystore string `json:"keystore"`
	// HasUserVerification says whether the authenticator has built-in user
	// verification (vauth run --uv), which SetUserVerified controls.
	HasUserVerification bool     `json:"hasUserVerification"`
	PIN                 PINState `json:"pin"`
	// Profile is the generation of authenticator it behaves as (vauth run
	// --profile): "ctap2.1", "ctap2.0" or "u2f", as WebDriver's protocol
	// option names "ctap2", "ctap2_1" and "ctap1/u2f".
	Profile string `json:"profile"`
	// Algorithms are the algorithms offered for new credentials, in order
	// of preference (see Algorithms).
	Algorithms AlgorithmNames `json:"algorithms"`
	// KeystoreAlgorithms are all the keystore makes keys for, in order of
	// preference: a TPM keystore's are what that TPM supports.
	KeystoreAlgorithms AlgorithmNames `json:"keystoreAlgorithms"`
}

// Credential is WebDriver's Credential Parameters: what Add Credential
// imports and Get Credentials lists, plus the user's names and the key's
// algorithm.
type Credential struct {
	// CredentialID is chosen by the keystore on import (a non-discoverable
	// credential's ID is its sealed key), so it is output only: Add
	// Credential returns it.
	CredentialID         Base64URL `json:"credentialId,omitempty"`
	IsResidentCredential bool      `json:"isResidentCredential"`
	RPID                 string    `json:"rpId"`
	// PrivateKey is the PKCS#8 DER private key (ECDSA P-256, P-384, P-521,
	// Ed25519 or RSA) to import; keys never leave the keystore, so
	// listings leave it out.
	PrivateKey      Base64URL `json:"privateKey,omitempty"`
	UserHandle      Base64URL `json:"userHandle,omitempty"`
	UserName        string    `json:"userName,omitempty"`
	UserDisplayName string    `json:"userDisplayName,omitempty"`
	// SignCount is the signature counter: on import its current value
	// (the next assertion carries a larger one), in listings the last value
	// used (where the keystore tracks it).
	SignCount uint32 `json:"signCount"`
	// Algorithm is the COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256...);
	// on import it chooses between those the key allows (PS256 for an RSA
	// key; 0: the key's usual one).
	Algorithm int `json:"algorithm,omitempty"`
	// PublicKey is the credential's public key as a COSE_Key, as the
	// authenticator data of a registration carries it; listings only (on
	// import it comes from PrivateKey).
	PublicKey Base64URL `json:"publicKey,omitempty"`
	// CredProtect is the credProtect level (1-3), 0 when not set.
	CredProtect uint8      `json:"credProtect,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	LastUsed    *time.Time `json:"lastUsed,omitempty"`
}

// Credentials is Get Credentials' answer.
type Credentials struct {
	Credentials []Credential `json:"credentials"`
}

// UpdateUser is the body that renames the user of a discoverable
// credential, as credential management's updateUserInformation does;
// absent members stay as they are, "" removes a name.
type UpdateUser struct {
	UserName        *string `json:"userName,omitempty"`
	UserDisplayName *string `json:"userDisplayName,omitempty"`
}

// UserVerified is Set User Verified's body.
type UserVerified struct {
	IsUserVerified bool `json:"isUserVerified"`
}

// Policy says how the authenticator answers requests for user presence or
// built-in user verification.
type Policy string

// The policies.
const (
	// PolicyPrompt asks the configured prompt (--presence, --uv), while the
	// control API can answer the pending request too; the first answer
	// counts. The default.
	PolicyPrompt Policy = "prompt"
	// PolicyApprove approves every request at once.
	PolicyApprove Policy = "approve"
	// PolicyDeny refuses every request at once.
	PolicyDeny Policy = "deny"
	// PolicyWait holds every request until the control API answers it (or
	// the host cancels).
	PolicyWait Policy = "wait"
)

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PolicyPrompt, PolicyApprove, PolicyDeny, PolicyWait:
		return p, nil
	}
	return "", fmt.Errorf("policy %q: want prompt, approve, deny or wait", s)
}

// Request kinds of a pending request.
const (
	KindPresence = "presence" // user presence (a touch)
	KindUV       = "uv"       // built-in user verification
)

// PendingRequest is a request for user presence or verification that
// waits for an answer.
type PendingRequest struct {
	ID    uint64    `json:"id"`
	Kind  string    `json:"kind"`      // KindPresence or KindUV
	Op    string    `json:"operation"` // makeCredential, getAssertion, reset, selection, ...
	RPID  string    `json:"rpId,omitempty"`
	User  string    `json:"user,omitempty"`
	Since time.Time `json:"since"`
}

// PresenceState is the presence and user verification policies and what
// waits for an answer, oldest first.
type PresenceState struct {
	Policy Policy `json:"policy"`
	// UVPolicy is the policy of built-in user verification; empty when the
	// authenticator has none.
	UVPolicy Policy           `json:"uvPolicy,omitempty"`
	Pending  []PendingRequest `json:"pending"`
}

// SetPolicy is the body that sets a policy.
type SetPolicy struct {
	Policy Policy `json:"policy"`
	Kind   string `json:"kind,omitempty"` // KindPresence (default) or KindUV
}

// Answer is the body that approves or denies a pending request.
type Answer struct {
	// ID is the request to answer; 0 is the oldest pending one.
	ID uint64 `json:"id,omitempty"`
	// Wait is how long to wait for a request to be pending when none is
	// yet (e.g. "5s"); 0 answers only one pending now.
	Wait Duration `json:"wait,omitempty"`
}

// PINState is the PIN and user verification state (ctap2.PINStatus).
type PINState struct {
	PINSet         bool `json:"pinSet"`
	PINRetries     int  `json:"pinRetries"`
	UVRetries      int  `json:"uvRetries"`
	ForcePINChange bool `json:"forcePinChange"`
	MinPINLength   int  `json:"minPinLength"`
	AlwaysUV       bool `json:"alwaysUv"`
}

func pinState(s ctap2.PINStatus) PINState {
	return PINState{PINSet: s.PINSet, PINRetries: s.PINRetries, UVRetries: s.UVRetries,
		ForcePINChange: s.ForcePINChange, MinPINLength: s.MinPINLength, AlwaysUV: s.AlwaysUV}
}

// PINChange sets the PIN state; absent members stay as they are
// (ctap2.PINChange).
type PINChange struct {
	PIN            *string `json:"pin,omitempty"` // "" removes the PIN
	PINRetries     *int    `json:"pinRetries,omitempty"`
	UVRetries      *int    `json:"uvRetries,omitempty"`
	ForcePINChange *bool   `json:"forcePinChange,omitempty"`
}

// ChangePIN is the body that changes the PIN given the current one, as
// clientPIN's changePIN does.
type ChangePIN struct {
	CurrentPIN string `json:"currentPin"`
	NewPIN     string `json:"newPin"`
}

// Faults are the failures armed on purpose (ctap2.FaultSettings), in the
// spirit of Chromium's virtual device.
type Faults struct {
	// CorruptSignature flips a bit of the next signature after signing:
	// the relying party's signature check fails.
	CorruptSignature bool `json:"corruptSignature,omitempty"`
	// ClearUP and ClearUV clear the flag in the next authenticator data
	// before it is signed: a valid signature over wrong flags.
	ClearUP bool `json:"clearUP,omitempty"`
	ClearUV bool `json:"clearUV,omitempty"`
	// Status answers the next command (of Command, or any) with this CTAP
	// status instead of running it: a name such as
	// "CTAP2_ERR_OPERATION_DENIED" or a number such as "0x27".
	Status string `json:"status,omitempty"`
	// Command is the CTAP command Status waits for, e.g. "makeCredential"
	// or "getAssertion"; empty for the next command of any kind.
	Command string `json:"command,omitempty"`
	// Delay holds every command this long before it runs, until changed.
	Delay Duration `json:"delay,omitempty"`
}

// settings turns Faults into ctap2's form.
func (f Faults) settings() (ctap2.FaultSettings, error) {
	s := ctap2.FaultSettings{CorruptSignature: f.CorruptSignature, ClearUP: f.ClearUP, ClearUV: f.ClearUV, Delay: time.Duration(f.Delay)}
	if f.Delay < 0 {
		return s, errors.New("faults: negative delay")
	}
	if f.Status != "" {
		st, ok := ctap2.ParseStatus(f.Status)
		if !ok {
			n, err := strconv.ParseUint(f.Status, 0, 8)
			if err != nil {
				return s, fmt.Errorf("faults: status %q: want a CTAP status name (CTAP2_ERR_...) or a number", f.Status)
			}
			st = ctap2.Status(n)
		}
		if st == ctap2.CTAP2OK {
			return s, errors.New("faults: status CTAP2_OK is no fault")
		}
		s.Status = st
	}
	if f.Command != "" {
		if f.Status == "" {
			return s, errors.New("faults: command without a status")
		}
		cmd, ok := ctap2.CommandByName(f.Command)
		if !ok {
			return s, fmt.Errorf("faults: unknown CTAP command %q (e.g. makeCredential, getAssertion, getInfo)", f.Command)
		}
		s.StatusCommand = cmd
	}
	return s, nil
}

// faults turns ctap2's form into Faults.
func faults(s ctap2.FaultSettings) Faults {
	f := Faults{CorruptSignature: s.CorruptSignature, ClearUP: s.ClearUP, ClearUV: s.ClearUV, Delay: Duration(s.Delay)}
	if s.Status != 0 {
		f.Status = s.Status.String()
	}
	if s.StatusCommand != 0 {
		f.Command = ctap2.CommandName(s.StatusCommand)
	}
	return f
}

// Event types besides ctap2's (registered, asserted, deleted, reset).
const (
	// EventAdded: the control API imported a credential.
	EventAdded = "added"
)

// Event is a credential event: registered, asserted, deleted, reset, or
// added (imported through the control API).
type Event struct {
	// Seq numbers the events of one daemon run from 1, so that a watcher
	// asks for what came after the last one it saw.
	Seq                  uint64    `json:"seq"`
	Type                 string    `json:"type"`
	Time                 time.Time `json:"time"`
	RPID                 string    `json:"rpId,omitempty"`
	CredentialID         Base64URL `json:"credentialId,omitempty"`
	IsResidentCredential bool      `json:"isResidentCredential"`
	UserHandle           Base64URL `json:"userHandle,omitempty"`
	UserName             string    `json:"userName,omitempty"`
	SignCount            uint32    `json:"signCount"`
	UP                   bool      `json:"up"`
	UV                   bool      `json:"uv"`
}

// Events is the answer of the events long-poll: the events after the
// asked-for sequence number, and the number to ask after next time.
type Events struct {
	Events []Event `json:"events"`
	Next   uint64  `json:"next"`
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
	// CTAPStatus is the CTAP status code the authenticator refused with
	// (HTTP 409), e.g. 0x31 CTAP2_ERR_PIN_INVALID; 0 for other errors.
	CTAPStatus uint8 `json:"ctapStatus,omitempty"`
}

// Duration is a time.Duration as a Go duration string in JSON ("250ms",
// "2s"); a bare number is milliseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err == nil {
		*d = Duration(ms * float64(time.Millisecond))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration is a string such as \"250ms\" or a number of milliseconds")
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
