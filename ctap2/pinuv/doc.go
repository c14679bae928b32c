// Package pinuv implements the PIN/UV auth protocols of CTAP 2.1 (§6.5):
// pinUvAuthProtocol 1 and 2 for both the authenticator and the platform
// role, the pinUvAuthToken and its state (§6.5.2.1, §6.5.5), and the PIN
// composition rules (§6.5.1) that authenticatorClientPIN enforces.
//
// It owns the cryptography and the state machine; the CBOR commands that
// use them live in package ctap2 (client_pin.go), and host-side code uses
// the platform half (Encapsulate, Encrypt, Decrypt, Authenticate).
package pinuv
