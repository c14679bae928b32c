package ctap2

import (
	"errors"
	"fmt"
)

// Status is a CTAP status code, the first byte of every CTAPHID_CBOR
// response (CTAP 2.1 §8.2).
type Status byte

// The CTAP status codes, named as in the specification (CTAP 2.1 §8.2).
const (
	CTAP2OK                        Status = 0x00 // CTAP1_ERR_SUCCESS, CTAP2_OK
	CTAP1ErrInvalidCommand         Status = 0x01
	CTAP1ErrInvalidParameter       Status = 0x02
	CTAP1ErrInvalidLength          Status = 0x03
	CTAP1ErrInvalidSeq             Status = 0x04
	CTAP1ErrTimeout                Status = 0x05
	CTAP1ErrChannelBusy            Status = 0x06
	CTAP1ErrLockRequired           Status = 0x0A
	CTAP1ErrInvalidChannel         Status = 0x0B
	CTAP2ErrCBORUnexpectedType     Status = 0x11
	CTAP2ErrInvalidCBOR            Status = 0x12
	CTAP2ErrMissingParameter       Status = 0x14
	CTAP2ErrLimitExceeded          Status = 0x15
	CTAP2ErrFPDatabaseFull         Status = 0x17
	CTAP2ErrLargeBlobStorageFull   Status = 0x18
	CTAP2ErrCredentialExcluded     Status = 0x19
	CTAP2ErrProcessing             Status = 0x21
	CTAP2ErrInvalidCredential      Status = 0x22
	CTAP2ErrUserActionPending      Status = 0x23
	CTAP2ErrOperationPending       Status = 0x24
	CTAP2ErrNoOperations           Status = 0x25
	CTAP2ErrUnsupportedAlgorithm   Status = 0x26
	CTAP2ErrOperationDenied        Status = 0x27
	CTAP2ErrKeyStoreFull           Status = 0x28
	CTAP2ErrUnsupportedOption      Status = 0x2B
	CTAP2ErrInvalidOption          Status = 0x2C
	CTAP2ErrKeepaliveCancel        Status = 0x2D
	CTAP2ErrNoCredentials          Status = 0x2E
	CTAP2ErrUserActionTimeout      Status = 0x2F
	CTAP2ErrNotAllowed             Status = 0x30
	CTAP2ErrPinInvalid             Status = 0x31
	CTAP2ErrPinBlocked             Status = 0x32
	CTAP2ErrPinAuthInvalid         Status = 0x33
	CTAP2ErrPinAuthBlocked         Status = 0x34
	CTAP2ErrPinNotSet              Status = 0x35
	CTAP2ErrPUATRequired           Status = 0x36
	CTAP2ErrPinPolicyViolation     Status = 0x37
	CTAP2ErrPinTokenExpired        Status = 0x38
	CTAP2ErrRequestTooLarge        Status = 0x39
	CTAP2ErrActionTimeout          Status = 0x3A
	CTAP2ErrUPRequired             Status = 0x3B
	CTAP2ErrUVBlocked              Status = 0x3C
	CTAP2ErrIntegrityFailure       Status = 0x3D
	CTAP2ErrInvalidSubcommand      Status = 0x3E
	CTAP2ErrUVInvalid              Status = 0x3F
	CTAP2ErrUnauthorizedPermission Status = 0x40
	CTAP1ErrOther                  Status = 0x7F
	CTAP2ErrSpecLast               Status = 0xDF
	CTAP2ErrExtensionFirst         Status = 0xE0
	CTAP2ErrExtensionLast          Status = 0xEF
	CTAP2ErrVendorFirst            Status = 0xF0
	CTAP2ErrVendorLast             Status = 0xFF
)

var statusNames = map[Status]string{
	CTAP2OK:                        "CTAP2_OK",
	CTAP1ErrInvalidCommand:         "CTAP1_ERR_INVALID_COMMAND",
	CTAP1ErrInvalidParameter:       "CTAP1_ERR_INVALID_PARAMETER",
	CTAP1ErrInvalidLength:          "CTAP1_ERR_INVALID_LENGTH",
	CTAP1ErrInvalidSeq:             "CTAP1_ERR_INVALID_SEQ",
	CTAP1ErrTimeout:                "CTAP1_ERR_TIMEOUT",
	CTAP1ErrChannelBusy:            "CTAP1_ERR_CHANNEL_BUSY",
	CTAP1ErrLockRequired:           "CTAP1_ERR_LOCK_REQUIRED",
	CTAP1ErrInvalidChannel:         "CTAP1_ERR_INVALID_CHANNEL",
	CTAP2ErrCBORUnexpectedType:     "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
	CTAP2ErrInvalidCBOR:            "CTAP2_ERR_INVALID_CBOR",
	CTAP2ErrMissingParameter:       "CTAP2_ERR_MISSING_PARAMETER",
	CTAP2ErrLimitExceeded:          "CTAP2_ERR_LIMIT_EXCEEDED",
	CTAP2ErrFPDatabaseFull:         "CTAP2_ERR_FP_DATABASE_FULL",
	CTAP2ErrLargeBlobStorageFull:   "CTAP2_ERR_LARGE_BLOB_STORAGE_FULL",
	CTAP2ErrCredentialExcluded:     "CTAP2_ERR_CREDENTIAL_EXCLUDED",
	CTAP2ErrProcessing:             "CTAP2_ERR_PROCESSING",
	CTAP2ErrInvalidCredential:      "CTAP2_ERR_INVALID_CREDENTIAL",
	CTAP2ErrUserActionPending:      "CTAP2_ERR_USER_ACTION_PENDING",
	CTAP2ErrOperationPending:       "CTAP2_ERR_OPERATION_PENDING",
	CTAP2ErrNoOperations:           "CTAP2_ERR_NO_OPERATIONS",
	CTAP2ErrUnsupportedAlgorithm:   "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
	CTAP2ErrOperationDenied:        "CTAP2_ERR_OPERATION_DENIED",
	CTAP2ErrKeyStoreFull:           "CTAP2_ERR_KEY_STORE_FULL",
	CTAP2ErrUnsupportedOption:      "CTAP2_ERR_UNSUPPORTED_OPTION",
	CTAP2ErrInvalidOption:          "CTAP2_ERR_INVALID_OPTION",
	CTAP2ErrKeepaliveCancel:        "CTAP2_ERR_KEEPALIVE_CANCEL",
	CTAP2ErrNoCredentials:          "CTAP2_ERR_NO_CREDENTIALS",
	CTAP2ErrUserActionTimeout:      "CTAP2_ERR_USER_ACTION_TIMEOUT",
	CTAP2ErrNotAllowed:             "CTAP2_ERR_NOT_ALLOWED",
	CTAP2ErrPinInvalid:             "CTAP2_ERR_PIN_INVALID",
	CTAP2ErrPinBlocked:             "CTAP2_ERR_PIN_BLOCKED",
	CTAP2ErrPinAuthInvalid:         "CTAP2_ERR_PIN_AUTH_INVALID",
	CTAP2ErrPinAuthBlocked:         "CTAP2_ERR_PIN_AUTH_BLOCKED",
	CTAP2ErrPinNotSet:              "CTAP2_ERR_PIN_NOT_SET",
	CTAP2ErrPUATRequired:           "CTAP2_ERR_PUAT_REQUIRED",
	CTAP2ErrPinPolicyViolation:     "CTAP2_ERR_PIN_POLICY_VIOLATION",
	CTAP2ErrPinTokenExpired:        "CTAP2_ERR_PIN_TOKEN_EXPIRED",
	CTAP2ErrRequestTooLarge:        "CTAP2_ERR_REQUEST_TOO_LARGE",
	CTAP2ErrActionTimeout:          "CTAP2_ERR_ACTION_TIMEOUT",
	CTAP2ErrUPRequired:             "CTAP2_ERR_UP_REQUIRED",
	CTAP2ErrUVBlocked:              "CTAP2_ERR_UV_BLOCKED",
	CTAP2ErrIntegrityFailure:       "CTAP2_ERR_INTEGRITY_FAILURE",
	CTAP2ErrInvalidSubcommand:      "CTAP2_ERR_INVALID_SUBCOMMAND",
	CTAP2ErrUVInvalid:              "CTAP2_ERR_UV_INVALID",
	CTAP2ErrUnauthorizedPermission: "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
	CTAP1ErrOther:                  "CTAP1_ERR_OTHER",
	CTAP2ErrSpecLast:               "CTAP2_ERR_SPEC_LAST",
	CTAP2ErrExtensionFirst:         "CTAP2_ERR_EXTENSION_FIRST",
	CTAP2ErrExtensionLast:          "CTAP2_ERR_EXTENSION_LAST",
	CTAP2ErrVendorFirst:            "CTAP2_ERR_VENDOR_FIRST",
	CTAP2ErrVendorLast:             "CTAP2_ERR_VENDOR_LAST",
}

// String returns the specification's name of the status, or its hex value
// when the specification names none.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("CTAP status 0x%02X", byte(s))
}

// StatusError is an error that ends a command with a CTAP status code; Err
// says why, for the log. Errors from deep inside a command carry their status
// this way up to the dispatcher, which answers with it.
type StatusError struct {
	Status Status
	Err    error // the detail; may be nil
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return e.Status.String()
	}
	return e.Status.String() + ": " + e.Err.Error()
}

// Unwrap returns the detail.
func (e *StatusError) Unwrap() error { return e.Err }

// statusErrorf returns a StatusError with a formatted detail; %w wraps.
func statusErrorf(s Status, format string, args ...any) error {
	return &StatusError{Status: s, Err: fmt.Errorf(format, args...)}
}

// statusOf is the status a command that ended with err answers: CTAP2_OK for
// nil, the status a StatusError carries, and CTAP1_ERR_OTHER for anything
// else (an error nobody anticipated).
func statusOf(err error) Status {
	if err == nil {
		return CTAP2OK
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return CTAP1ErrOther
}
