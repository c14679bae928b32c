package ctap1

import (
	"context"
	"fmt"
	"slices"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore"
)

// Sizes of the U2F parameters (FIDO U2F Raw Message Formats §4, §5).
const (
	challengeSize   = 32 // the challenge parameter: SHA-256 of the client data
	applicationSize = 32 // the application parameter: SHA-256 of the AppID
	// maxKeyHandleSize is the longest key handle: its length is one byte.
	maxKeyHandleSize = 255
)

// registerReserved is the first byte of a registration response.
const registerReserved = 0x05

// register is U2F_REGISTER (FIDO U2F Raw Message Formats §4): once the user
// approves, it makes a non-discoverable ES256 credential bound to the
// application parameter and answers 0x05 || public key (65 bytes) ||
// key handle length || key handle || attestation certificate || signature
// by the attestation key over 0x00 || application || challenge ||
// key handle || public key. P1 and P2 are ignored.
func (a *Authenticator) register(ctx context.Context, c command) ([]byte, error) {
	if len(c.data) != challengeSize+applicationSize {
		return nil, statusErrorf(SWWrongLength, "U2F_REGISTER with %d bytes of data, want %d", len(c.data), challengeSize+applicationSize)
	}
	challenge := c.data[:challengeSize]
	application := [applicationSize]byte(c.data[challengeSize:])
	resp, err := a.doRegister(ctx, challenge, application)
	a.logOutcome("U2F registration", err, application)
	return resp, err
}

func (a *Authenticator) doRegister(ctx context.Context, challenge []byte, application [32]byte) ([]byte, error) {
	if !a.userPresence(ctx, presenceKey{ins: InsRegister, application: application}) {
		return nil, statusErrorf(SWConditionsNotSatisfied, "waiting for the user to approve the registration")
	}
	cred, err := a.keystore.Create(keystore.CreateRequest{RPIDHash: application, Algorithm: keystore.ES256})
	if err != nil {
		return nil, fmt.Errorf("creating the credential: %w", err)
	}
	if len(cred.ID) > maxKeyHandleSize {
		return nil, fmt.Errorf("the %s keystore made a credential ID of %d bytes, longer than a U2F key handle", a.keystore.Backend(), len(cred.ID))
	}
	publicKey, err := attestation.PublicKeyU2F(cred.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("the new credential's public key: %w", err)
	}
	sig, err := a.attester.SignRegistration(application[:], challenge, cred.ID, publicKey)
	if err != nil {
		return nil, err
	}
	return slices.Concat(
		[]byte{registerReserved},
		publicKey,
		[]byte{byte(len(cred.ID))}, cred.ID,
		a.attester.Certificate().Raw,
		sig,
	), nil
}
