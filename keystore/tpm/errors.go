package tpm

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

var (
	// ErrNoDevice: there is no TPM device node (no TPM 2.0, or no driver).
	ErrNoDevice = errors.New("tpm: no TPM device")
	// ErrDeviceAccess: the TPM device exists but this user may not open it.
	ErrDeviceAccess = errors.New("tpm: permission denied")
	// ErrLockout: the TPM refuses authorizations after too many failures
	// (dictionary-attack lockout).
	ErrLockout = errors.New("tpm: TPM is in dictionary-attack lockout")
	// ErrOwnerAuth: the owner hierarchy has an authorization value, and vauth
	// creates its storage key with an empty one.
	ErrOwnerAuth = errors.New("tpm: the TPM owner hierarchy has an authorization value set")
)

// tpmError wraps an error from the TPM with what was being done. TPM response
// codes are named by go-tpm (e.g. "TPM_RC_INTEGRITY: ..."); a lockout gets
// ErrLockout with how long it lasts.
func tpmError(t transport.TPM, op string, err error) error {
	if errors.Is(err, tpm2.TPMRCLockout) {
		return fmt.Errorf("%w (%s): %s", ErrLockout, op, lockoutAdvice(t))
	}
	return fmt.Errorf("tpm: %s: %w", op, err)
}

// lockoutAdvice reads the TPM's dictionary-attack state and says when the
// lockout ends and how to end it at once.
func lockoutAdvice(t transport.TPM) string {
	const howToClear = "an administrator can clear it now with `tpm2_dictionarylockout --clear-lockout` (needs the lockout authorization)"
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTLockoutCounter),
		PropertyCount: 3,
	}.Execute(t)
	if err != nil {
		return howToClear
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return howToClear
	}
	var counter, maxTries, interval uint32
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTLockoutCounter:
			counter = p.Value
		case tpm2.TPMPTMaxAuthFail:
			maxTries = p.Value
		case tpm2.TPMPTLockoutInterval:
			interval = p.Value
		}
	}
	if interval == 0 || counter < maxTries {
		return fmt.Sprintf("%d failed authorizations, limit %d; %s", counter, maxTries, howToClear)
	}
	// The TPM forgives one failure per interval and leaves lockout once the
	// counter is below the limit.
	wait := time.Duration(counter-maxTries+1) * time.Duration(interval) * time.Second
	return fmt.Sprintf("%d failed authorizations, limit %d; it forgives one every %v and accepts commands again in about %v (while powered on); %s",
		counter, maxTries, time.Duration(interval)*time.Second, wait, howToClear)
}
