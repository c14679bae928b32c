package ctap2

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// FaultSettings are failures a test arms on purpose, in the spirit of
// Chromium's virtual authenticator, to see that a relying party notices
// them. The one-shot faults (CorruptSignature, ClearUP, ClearUV, Status)
// disarm once they have struck; Delay stays until it is changed.
type FaultSettings struct {
	// CorruptSignature flips a bit of the next signature after it is made
	// (an assertion's, or a registration's attestation statement's), so
	// that the relying party's verification of it fails.
	CorruptSignature bool
	// ClearUP and ClearUV clear the UP or UV flag in the next authenticator
	// data before it is signed: the signature is valid, the flags wrong.
	ClearUP bool
	ClearUV bool
	// Status, when not 0, answers the next command with this CTAP status
	// instead of running it: the next command of StatusCommand (a CTAP
	// command byte, e.g. 0x01 authenticatorMakeCredential), or of any
	// command when StatusCommand is 0.
	Status        Status
	StatusCommand byte
	// Delay holds every command this long before running it (the host sees
	// keepalives meanwhile); a cancelled request stops waiting.
	Delay time.Duration
}

// Faults holds the armed FaultSettings of an Authenticator (Config.Faults).
// It is safe for concurrent use; its methods accept a nil *Faults, which
// never strikes.
type Faults struct {
	mu sync.Mutex
	s  FaultSettings
}

// Set replaces the armed faults.
func (f *Faults) Set(s FaultSettings) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

// Settings returns the faults still armed.
func (f *Faults) Settings() FaultSettings {
	if f == nil {
		return FaultSettings{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

// before runs ahead of every command: it waits out the Delay, then says
// whether a Status fault answers cmd instead.
func (f *Faults) before(ctx context.Context, cmd byte) (Status, bool) {
	if f == nil {
		return 0, false
	}
	if d := f.Settings().Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return CTAP2ErrKeepaliveCancel, true
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.s.Status == 0 || (f.s.StatusCommand != 0 && f.s.StatusCommand != cmd) {
		return 0, false
	}
	st := f.s.Status
	f.s.Status, f.s.StatusCommand = 0, 0
	return st, true
}

// flags applies ClearUP and ClearUV to the flags of authenticator data
// about to be signed.
func (f *Faults) flags(flags byte) byte {
	if f == nil {
		return flags
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.s.ClearUP {
		flags &^= flagUP
	}
	if f.s.ClearUV {
		flags &^= flagUV
	}
	f.s.ClearUP, f.s.ClearUV = false, false
	return flags
}

// signature applies CorruptSignature to a signature just made: a copy with
// the lowest bit of its last byte flipped, which keeps an ECDSA signature
// well-formed DER but wrong.
func (f *Faults) signature(sig []byte) []byte {
	if f == nil || len(sig) == 0 {
		return sig
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.s.CorruptSignature {
		return sig
	}
	f.s.CorruptSignature = false
	sig = slices.Clone(sig)
	sig[len(sig)-1] ^= 1
	return sig
}

// attestation applies CorruptSignature to the "sig" of an attestation
// statement, when it has one.
func (f *Faults) attestation(attStmt map[string]any) {
	if sig, ok := attStmt["sig"].([]byte); ok {
		attStmt["sig"] = f.signature(sig)
	}
}

// ParseStatus finds a CTAP status by its specification name, e.g.
// "CTAP2_ERR_OPERATION_DENIED", for the control API and the CLI.
func ParseStatus(name string) (Status, bool) {
	for s, n := range statusNames {
		if strings.EqualFold(n, name) {
			return s, true
		}
	}
	return 0, false
}

// CommandByName finds a CTAP command byte by its specification name, with
// or without the "authenticator" prefix and in any case, e.g.
// "authenticatorMakeCredential" or "getAssertion".
func CommandByName(name string) (byte, bool) {
	for b, c := range commands {
		if strings.EqualFold(c.name, name) || strings.EqualFold(c.name, "authenticator"+name) {
			return b, true
		}
	}
	return 0, false
}

// CommandName is the specification name of a CTAP command byte, e.g.
// "authenticatorMakeCredential", or its hex value when it has none.
func CommandName(b byte) string {
	if c, ok := commands[b]; ok {
		return c.name
	}
	return fmt.Sprintf("0x%02x", b)
}
