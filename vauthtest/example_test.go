package vauthtest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/vauthtest"
	vauthwebauthn "github.com/vauth/vauth/webauthn"
)

// user is an account at the relying party (go-webauthn's User).
type user struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return "alice" }
func (u *user) WebAuthnDisplayName() string                { return "Alice" }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// A registration and a sign-in at a go-webauthn relying party, the
// options and responses passing as JSON, as between a server and a page.
func Example() {
	key, _ := vauthtest.Start()
	defer key.Close()
	browser := key.Client("https://example.com")
	rp, _ := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	ctx, alice := context.Background(), &user{id: []byte("alice")}

	creation, session, _ := rp.BeginRegistration(alice)
	options, _ := json.Marshal(creation)
	response, _ := browser.CreateJSON(ctx, options)
	parsed, _ := protocol.ParseCredentialCreationResponseBytes(response)
	cred, err := rp.CreateCredential(alice, *session, parsed)
	fmt.Println("registered:", err == nil)
	alice.creds = append(alice.creds, *cred)

	assertion, session, _ := rp.BeginLogin(alice)
	options, _ = json.Marshal(assertion)
	response, _ = browser.GetJSON(ctx, options)
	parsedLogin, _ := protocol.ParseCredentialRequestResponseBytes(response)
	_, err = rp.ValidateLogin(alice, *session, parsedLogin)
	fmt.Println("signed in:", err == nil)
	// Output:
	// registered: true
	// signed in: true
}

// A test imports a credential its relying party already knows (as
// WebDriver's Add Credential does) and signs in with it.
func ExampleAuthenticator_AddCredential() {
	key, _ := vauthtest.Start()
	defer key.Close()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	cred, err := key.AddCredential(vauthtest.Credential{
		RPID: "example.com", IsResidentCredential: true, PrivateKey: pkcs8,
		UserHandle: []byte("alice"), UserName: "alice", SignCount: 7,
	})
	fmt.Println(err, cred.Algorithm, cred.SignCount)

	browser := key.Client("https://example.com")
	a, err := browser.Get(context.Background(), &vauthwebauthn.RequestOptions{Challenge: []byte("challenge"), RPID: "example.com"})
	fmt.Println(err, string(a.Response.UserHandle), bytes.Equal(a.RawID, cred.CredentialID))
	// Output:
	// <nil> -7 7
	// <nil> alice true
}

// An armed fault breaks the next ceremony once: here the relying party
// finds the assertion's signature wrong.
func ExampleAuthenticator_SetFaults() {
	key, _ := vauthtest.Start()
	defer key.Close()
	browser := key.Client("https://example.com")
	rp, _ := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	ctx, alice := context.Background(), &user{id: []byte("alice")}
	creation, session, _ := rp.BeginRegistration(alice)
	options, _ := json.Marshal(creation)
	response, _ := browser.CreateJSON(ctx, options)
	parsed, _ := protocol.ParseCredentialCreationResponseBytes(response)
	cred, _ := rp.CreateCredential(alice, *session, parsed)
	alice.creds = append(alice.creds, *cred)

	_ = key.SetFaults(vauthtest.Faults{CorruptSignature: true})
	for range 2 {
		assertion, session, _ := rp.BeginLogin(alice)
		options, _ = json.Marshal(assertion)
		response, _ = browser.GetJSON(ctx, options)
		parsed, _ := protocol.ParseCredentialRequestResponseBytes(response)
		_, err := rp.ValidateLogin(alice, *session, parsed)
		fmt.Println("signed in:", err == nil)
	}
	// Output:
	// signed in: false
	// signed in: true
}
