package ctap2

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"sync"
	"testing"
	"time"
)

// eventLog is an Observer that keeps what it is told.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// The Observer hears of each registration, assertion, deletion and reset,
// with the credential, the counter and the flags the RP received.
func TestObserver(t *testing.T) {
	log := &eventLog{}
	d := newTestDevice(t, func(c *Config) { c.Observer = log.observe })
	reg := d.register(makeCredentialParams("example.com", []byte("alice"), "alice", true))
	status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com"))
	if status != CTAP2OK {
		t.Fatal(status)
	}
	as := decodeAssertion(t, resp)
	if err := d.a.DeleteCredential(reg.authData.credentialID); err != nil {
		t.Fatal(err)
	}
	if status, _ := d.call(CmdReset, nil); status != CTAP2OK {
		t.Fatal(status)
	}
	events := log.take()
	want := []EventType{EventRegistered, EventAsserted, EventDeleted, EventReset}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %v: %+v", len(events), want, events)
	}
	for i, e := range events {
		if e.Type != want[i] || !e.Time.Equal(d.clock.Now()) {
			t.Errorf("event %d = %s at %v, want %s", i, e.Type, e.Time, want[i])
		}
		if e.Type == EventReset {
			continue
		}
		if string(e.CredentialID) != string(reg.authData.credentialID) || e.RPID != "example.com" || string(e.User.ID) != "alice" || !e.Discoverable {
			t.Errorf("event %d = %+v, want alice's credential", i, e)
		}
	}
	if e := events[1]; e.SignCount != as.authData.signCount || !e.UP || e.UV {
		t.Errorf("asserted event %+v, want counter %d, UP", e, as.authData.signCount)
	}
	if e := events[0]; e.User.Name != "alice" || !e.UP {
		t.Errorf("registered event %+v", e)
	}
	// Failures are no events.
	if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com")); status != CTAP2ErrNoCredentials {
		t.Fatal(status)
	}
	if err := d.a.DeleteCredential([]byte("nope")); err == nil {
		t.Fatal("deleting an unknown credential succeeded")
	}
	if events := log.take(); len(events) != 0 {
		t.Errorf("failed commands made events: %+v", events)
	}
}

// Each one-shot fault strikes once, where it should.
func TestFaults(t *testing.T) {
	faults := &Faults{}
	d := newTestDevice(t, func(c *Config) { c.Faults = faults })
	reg := d.register(makeCredentialParams("example.com", []byte("alice"), "alice", true))
	pub := reg.authData.publicKey.(*ecdsa.PublicKey)
	assert := func() (Status, assertion) {
		t.Helper()
		status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com"))
		if status != CTAP2OK {
			return status, assertion{}
		}
		return status, decodeAssertion(t, resp)
	}
	valid := func(as assertion) bool {
		digest := sha256.Sum256(append(append([]byte{}, as.authData.raw...), clientDataHash...))
		return ecdsa.VerifyASN1(pub, digest[:], as.signature)
	}

	faults.Set(FaultSettings{CorruptSignature: true})
	if _, as := assert(); valid(as) || as.authData.flags&flagUP == 0 {
		t.Error("CorruptSignature: the signature still verifies")
	}
	if _, as := assert(); !valid(as) {
		t.Error("the signature after CorruptSignature struck does not verify")
	}
	faults.Set(FaultSettings{ClearUP: true})
	if _, as := assert(); !valid(as) || as.authData.flags&flagUP != 0 {
		t.Errorf("ClearUP: flags %#x, valid %v; want UP clear under a valid signature", as.authData.flags, valid(as))
	}
	if _, as := assert(); as.authData.flags&flagUP == 0 {
		t.Error("UP still clear after ClearUP struck")
	}
	faults.Set(FaultSettings{Status: CTAP2ErrOperationDenied, StatusCommand: CmdGetAssertion})
	if status, _ := d.call(CmdGetInfo, nil); status != CTAP2OK {
		t.Errorf("getInfo answered %v, the fault waits for getAssertion", status)
	}
	if status, _ := assert(); status != CTAP2ErrOperationDenied {
		t.Errorf("getAssertion answered %v, want the armed status", status)
	}
	if status, _ := assert(); status != CTAP2OK {
		t.Errorf("getAssertion after the status struck: %v", status)
	}
	if got := faults.Settings(); got != (FaultSettings{}) {
		t.Errorf("faults still armed: %+v", got)
	}

	faults.Set(FaultSettings{CorruptSignature: true, ClearUV: true})
	reg = d.register(makeCredentialParams("example.com", []byte("bob"), "bob", true))
	if sig, ok := reg.attStmt["sig"]; !ok || len(sig) == 0 {
		t.Fatal("self attestation without a sig")
	}
	if faults.Settings().CorruptSignature {
		t.Error("CorruptSignature did not strike the attestation signature")
	}

	faults.Set(FaultSettings{Delay: 100 * time.Millisecond})
	start := time.Now()
	if status, _ := d.call(CmdGetInfo, nil); status != CTAP2OK || time.Since(start) < 100*time.Millisecond {
		t.Errorf("getInfo with a delay: %v after %v", status, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if status, _ := d.callRaw(ctx, CmdGetInfo, nil); status != CTAP2ErrKeepaliveCancel {
		t.Errorf("cancelled in the delay: %v, want CTAP2_ERR_KEEPALIVE_CANCEL", status)
	}
}

func TestStatusAndCommandNames(t *testing.T) {
	if s, ok := ParseStatus("ctap2_err_no_credentials"); !ok || s != CTAP2ErrNoCredentials {
		t.Errorf("ParseStatus = %v, %v", s, ok)
	}
	if _, ok := ParseStatus("CTAP2_ERR_BOGUS"); ok {
		t.Error("ParseStatus accepted a made-up name")
	}
	for _, name := range []string{"makeCredential", "authenticatorMakeCredential", "MAKECREDENTIAL"} {
		if b, ok := CommandByName(name); !ok || b != CmdMakeCredential {
			t.Errorf("CommandByName(%q) = %#x, %v", name, b, ok)
		}
	}
	if _, ok := CommandByName("frobnicate"); ok {
		t.Error("CommandByName accepted a made-up command")
	}
	if CommandName(CmdGetAssertion) != "authenticatorGetAssertion" || CommandName(0x55) != "0x55" {
		t.Errorf("CommandName: %q, %q", CommandName(CmdGetAssertion), CommandName(0x55))
	}
}
