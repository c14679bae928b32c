package ctap2

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/vauth/vauth/keystore"
)

// EventType names what happened to a credential.
type EventType string

// The credential events an Observer sees.
const (
	EventRegistered EventType = "registered" // authenticatorMakeCredential made a credential
	EventAsserted   EventType = "asserted"   // authenticatorGetAssertion or GetNextAssertion signed with one
	EventDeleted    EventType = "deleted"    // credential management or the control API deleted one
	EventReset      EventType = "reset"      // authenticatorReset or the control API erased everything
)

// Event is one credential event, as Chromium's virtual authenticator
// reports them to its observers: what happened, to which credential of
// which relying party, with the counter and the UP and UV flags of the
// authenticator data the relying party received.
type Event struct {
	Type         EventType
	Time         time.Time
	RPID         string        // the relying party; empty for a reset
	User         keystore.User // the account; only its ID for a non-discoverable credential's assertion (none)
	CredentialID []byte
	Discoverable bool
	SignCount    uint32 // the signature counter in the authenticator data
	UP, UV       bool   // the flags of the authenticator data
}

// Observer receives the credential events of an Authenticator after each
// success. It runs while the authenticator holds its lock, so it returns
// quickly and calls no method of the Authenticator.
type Observer func(Event)

// observe reports an event to the Observer, if there is one. authData, when
// given, supplies the counter and flags; cred, when given, the credential.
func (a *Authenticator) observe(typ EventType, rpID string, user keystore.User, cred *keystore.Credential, authData []byte) {
	if a.observer == nil {
		return
	}
	e := Event{Type: typ, Time: a.clock.Now(), RPID: rpID, User: cloneUser(user)}
	if cred != nil {
		e.CredentialID, e.Discoverable = slices.Clone(cred.ID), cred.Discoverable
	}
	if len(authData) >= 37 { // rpIdHash, flags, signCount
		e.UP, e.UV = authData[32]&flagUP != 0, authData[32]&flagUV != 0
		e.SignCount = binary.BigEndian.Uint32(authData[33:37])
	}
	a.observer(e)
}

func cloneUser(u keystore.User) keystore.User {
	return keystore.User{ID: slices.Clone(u.ID), Name: u.Name, DisplayName: u.DisplayName}
}
