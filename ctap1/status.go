package ctap1

import (
	"errors"
	"fmt"
)

// StatusWord is the SW1 SW2 trailer of every U2F response APDU.
type StatusWord uint16

// The status words of U2F (FIDO U2F Raw Message Formats §3.3), and ISO
// 7816-4's "no precise diagnosis" for a failure inside the authenticator
// that the host cannot cure.
const (
	SWNoError                StatusWord = 0x9000
	SWConditionsNotSatisfied StatusWord = 0x6985 // test of user presence required (or, check-only: the key handle is known)
	SWWrongData              StatusWord = 0x6A80 // unknown key handle, bad control byte
	SWWrongLength            StatusWord = 0x6700
	SWCLANotSupported        StatusWord = 0x6E00
	SWINSNotSupported        StatusWord = 0x6D00
	SWNoPreciseDiagnosis     StatusWord = 0x6F00
)

var statusWordNames = map[StatusWord]string{
	SWNoError:                "SW_NO_ERROR",
	SWConditionsNotSatisfied: "SW_CONDITIONS_NOT_SATISFIED",
	SWWrongData:              "SW_WRONG_DATA",
	SWWrongLength:            "SW_WRONG_LENGTH",
	SWCLANotSupported:        "SW_CLA_NOT_SUPPORTED",
	SWINSNotSupported:        "SW_INS_NOT_SUPPORTED",
	SWNoPreciseDiagnosis:     "SW_NO_PRECISE_DIAGNOSIS",
}

// String returns the specification's name of the status word, or its hex
// value.
func (sw StatusWord) String() string {
	if name, ok := statusWordNames[sw]; ok {
		return name
	}
	return fmt.Sprintf("SW 0x%04X", uint16(sw))
}

// Response returns the response APDU that is the status word alone.
func (sw StatusWord) Response() []byte { return []byte{byte(sw >> 8), byte(sw)} }

// statusError ends a request with a status word; err says why, for the log.
type statusError struct {
	sw  StatusWord
	err error
}

func (e *statusError) Error() string { return e.sw.String() + ": " + e.err.Error() }

func (e *statusError) Unwrap() error { return e.err }

// statusErrorf returns a statusError with a formatted detail; %w wraps.
func statusErrorf(sw StatusWord, format string, args ...any) error {
	return &statusError{sw: sw, err: fmt.Errorf(format, args...)}
}

// statusWordOf is the status word a request that ended with err answers:
// SW_NO_ERROR for nil, the one a statusError carries, and
// SW_NO_PRECISE_DIAGNOSIS for anything else (a failure nobody anticipated).
func statusWordOf(err error) StatusWord {
	if err == nil {
		return SWNoError
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.sw
	}
	return SWNoPreciseDiagnosis
}
