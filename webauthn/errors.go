package webauthn

import "fmt"

// DOMException names a browser raises from navigator.credentials.
const (
	NotAllowedError   = "NotAllowedError"
	InvalidStateError = "InvalidStateError"
	SecurityError     = "SecurityError"
	NotSupportedError = "NotSupportedError"
	ConstraintError   = "ConstraintError"
	AbortError        = "AbortError"
	UnknownError      = "UnknownError"
	TypeError         = "TypeError"
)

// Error is what a browser would raise: Name is the DOMException name, so
// tests can assert the same outcome they would see in a page.
type Error struct {
	Name    string
	Message string
	Err     error // the cause, e.g. a CTAP status
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Name, e.Message, e.Err)
	}
	return e.Name + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }
