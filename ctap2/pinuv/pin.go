package pinuv

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"unicode/utf8"
)

// PIN composition (§6.5.1) and retry limits (§6.5.2.2).
const (
	// MinPINLength is the smallest minimum PIN length, in Unicode code
	// points; authenticatorConfig may raise the minimum, never lower it.
	MinPINLength = 4
	// MaxPINLength is the largest PIN, in bytes of its UTF-8 encoding.
	MaxPINLength = 63
	// PaddedPINLength is the length of paddedNewPin: the PIN followed by
	// 0x00 bytes.
	PaddedPINLength = 64
	// PINHashLength is the length of a PIN hash, LEFT(SHA-256(PIN), 16).
	PINHashLength = 16

	// MaxPINRetries is the value of the persistent pinRetries counter after
	// a correct PIN; at 0 the PIN is blocked until authenticatorReset.
	MaxPINRetries = 8
	// MaxConsecutivePINMismatches is how many wrong PINs in a row are
	// accepted before CTAP2_ERR_PIN_AUTH_BLOCKED: then only a power cycle
	// lets the platform try again, so that malware cannot use up
	// pinRetries without the user noticing.
	MaxConsecutivePINMismatches = 3
)

// The CTAP status codes of the PIN checks.
const (
	StatusInvalidParameter   byte = 0x02 // CTAP1_ERR_INVALID_PARAMETER
	StatusPINPolicyViolation byte = 0x37 // CTAP2_ERR_PIN_POLICY_VIOLATION
)

// Error is a PIN check that failed, with the CTAP status code that the
// authenticator returns for it. errors.Is matches an Error of the same
// status, so ErrInvalidParameter and ErrPINPolicyViolation can be tested
// for.
type Error struct {
	Status byte   // the CTAP status code, e.g. StatusPINPolicyViolation
	Reason string // what was wrong, for logs; never sent
}

// Errors for errors.Is.
var (
	ErrInvalidParameter   = &Error{Status: StatusInvalidParameter}
	ErrPINPolicyViolation = &Error{Status: StatusPINPolicyViolation}
)

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("pinuv: CTAP status 0x%02x", e.Status)
	}
	return fmt.Sprintf("pinuv: %s (CTAP status 0x%02x)", e.Reason, e.Status)
}

// Is reports whether target is an *Error with the same status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// DecodeNewPIN extracts newPin from a decrypted paddedNewPin (setPIN and
// changePIN, §6.5.5.5–6) and checks it against the PIN composition rules:
// paddedNewPin must be 64 bytes (else CTAP1_ERR_INVALID_PARAMETER); the PIN,
// paddedNewPin without its trailing 0x00 bytes, must be valid UTF-8 without
// NUL, at most 63 bytes and at least minCodePoints code points (never fewer
// than MinPINLength), else CTAP2_ERR_PIN_POLICY_VIOLATION.
func DecodeNewPIN(paddedPIN []byte, minCodePoints int) ([]byte, error) {
	if len(paddedPIN) != PaddedPINLength {
		return nil, &Error{StatusInvalidParameter, fmt.Sprintf("paddedNewPin of %d bytes, want %d", len(paddedPIN), PaddedPINLength)}
	}
	pin := bytes.TrimRight(paddedPIN, "\x00")
	switch {
	case len(pin) > MaxPINLength:
		return nil, &Error{StatusPINPolicyViolation, fmt.Sprintf("PIN longer than %d bytes", MaxPINLength)}
	case bytes.IndexByte(pin, 0) >= 0:
		return nil, &Error{StatusPINPolicyViolation, "PIN contains NUL"}
	case !utf8.Valid(pin):
		return nil, &Error{StatusPINPolicyViolation, "PIN is not valid UTF-8"}
	}
	minCodePoints = max(minCodePoints, MinPINLength)
	if n := utf8.RuneCount(pin); n < minCodePoints {
		return nil, &Error{StatusPINPolicyViolation, fmt.Sprintf("PIN of %d code points, minimum %d", n, minCodePoints)}
	}
	return append([]byte(nil), pin...), nil
}

// PINHash returns LEFT(SHA-256(pin), 16), the form in which the
// authenticator stores the PIN and the platform sends it (pinHashEnc).
func PINHash(pin []byte) [PINHashLength]byte {
	sum := sha256.Sum256(pin)
	return [PINHashLength]byte(sum[:PINHashLength])
}

// PINHashEqual compares a stored PIN hash with a decrypted pinHashEnc in
// constant time; a value of another length never matches.
func PINHashEqual(stored [PINHashLength]byte, got []byte) bool {
	return subtle.ConstantTimeCompare(stored[:], got) == 1
}
