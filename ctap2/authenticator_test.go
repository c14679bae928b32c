package ctap2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vauth/vauth/keystore"
)

func TestNew(t *testing.T) {
	d := newTestDevice(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no keystore", Config{}},
		{"unsupported algorithm", Config{Keystore: d.store, Algorithms: []int{-65535}}},
		{"algorithm twice", Config{Keystore: d.store, Algorithms: []int{keystore.RS256, keystore.ES256, keystore.RS256}}},
		{"no algorithms", Config{Keystore: d.store, Algorithms: []int{}}},
		{"negative limit", Config{Keystore: d.store, MaxDiscoverable: -1}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}

	a, err := New(Config{Keystore: d.store})
	if err != nil {
		t.Fatal(err)
	}
	if a.maxMsgSize != DefaultMaxMsgSize || a.maxCredentialCountInList != DefaultMaxCredentialCountInList ||
		a.maxDiscoverable != DefaultMaxDiscoverable || len(a.transports) != 1 || a.transports[0] != "usb" ||
		len(a.algorithms) != len(d.store.Algorithms()) || a.attester == nil || a.log == nil {
		t.Fatalf("defaults not applied: %+v", a)
	}
	if _, ok := a.clock.(SystemClock); !ok {
		t.Fatalf("clock %T, want SystemClock", a.clock)
	}
	// The zero Config (with a keystore) serves; attestation "none".
	resp := a.HandleCBOR(t.Context(), append([]byte{CmdMakeCredential}, encode(t, makeCredentialParams("example.com", []byte{1}, "a", false))...), nil)
	if Status(resp[0]) != CTAP2ErrOperationDenied {
		t.Fatalf("makeCredential without Presence: %v", Status(resp[0]))
	}
}

// TestDispatch covers requests that never reach a command.
func TestDispatch(t *testing.T) {
	d := newTestDevice(t, func(c *Config) { c.MaxMsgSize = 100 })
	for _, tc := range []struct {
		name string
		req  []byte
		want Status
	}{
		{"empty", nil, CTAP1ErrInvalidLength},
		{"unknown command", []byte{0x55}, CTAP1ErrInvalidCommand},
		{"vendor command", []byte{0x51}, CTAP1ErrInvalidCommand},
		{"bioEnrollment not implemented", []byte{0x09, 0xa0}, CTAP1ErrInvalidCommand},
		{"clientPin without subCommand", []byte{CmdClientPIN, 0xa0}, CTAP2ErrMissingParameter},
		{"longer than maxMsgSize", append([]byte{CmdGetInfo}, make([]byte, 100)...), CTAP1ErrInvalidLength},
		{"exactly maxMsgSize", append([]byte{CmdGetInfo}, make([]byte, 99)...), CTAP2OK},
		{"getInfo ignores parameters", []byte{CmdGetInfo, 0xa0}, CTAP2OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := d.a.HandleCBOR(t.Context(), tc.req, nil)
			if Status(resp[0]) != tc.want {
				t.Fatalf("%v, want %v", Status(resp[0]), tc.want)
			}
			if tc.want != CTAP2OK && len(resp) != 1 {
				t.Fatalf("error response of %d bytes", len(resp))
			}
		})
	}
}

// TestHandlerPanic: a panic inside a command (here from a Presence) becomes
// CTAP1_ERR_OTHER with the stack in the log, and the authenticator goes on
// serving.
func TestHandlerPanic(t *testing.T) {
	d := newTestDevice(t)
	d.presence.setFunc(func(context.Context) error { panic("prompt exploded") })
	status, _ := d.call(CmdMakeCredential, makeCredentialParams("example.com", []byte{1}, "alice", false))
	if status != CTAP1ErrOther {
		t.Fatalf("%v, want CTAP1_ERR_OTHER", status)
	}
	logs := d.logs.String()
	if !strings.Contains(logs, "prompt exploded") || !strings.Contains(logs, "goroutine") || !strings.Contains(logs, "level=ERROR") {
		t.Fatalf("the panic and its stack are not logged:\n%s", logs)
	}
	d.presence.set(nil)
	d.mustGetInfo()
	d.register(makeCredentialParams("example.com", []byte{1}, "alice", false))
}

// TestConcurrentCommands runs commands from several goroutines: they run
// one at a time (the race detector watches) and all succeed.
func TestConcurrentCommands(t *testing.T) {
	d := newTestDevice(t)
	id := d.register(makeCredentialParams("example.com", []byte{1}, "alice", false)).authData.credentialID
	ga := append([]byte{CmdGetAssertion}, encode(t, getAssertionParams("example.com", id))...)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				req := []byte{CmdGetInfo}
				if (i+j)%2 == 0 {
					req = ga
				}
				if resp := d.a.HandleCBOR(context.Background(), req, nil); Status(resp[0]) != CTAP2OK {
					errs <- fmt.Errorf("goroutine %d, call %d: %v", i, j, Status(resp[0]))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLogging: every command at Debug; registrations, assertions and resets
// at Info with the RP, the user and the outcome.
func TestLogging(t *testing.T) {
	d := newTestDevice(t)
	d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true))
	d.call(CmdGetAssertion, getAssertionParams("example.com"))
	d.call(CmdGetAssertion, getAssertionParams("nobody.example"))
	d.presence.set(ErrDenied)
	d.call(CmdReset, nil)
	d.a.Wink()
	logs := d.logs.String()
	for _, want := range []string{
		`level=INFO msg=registration rp=example.com user=alice discoverable=true algorithm=-7 credential=`,
		`level=INFO msg=assertion rp=example.com credentials=1 up=true user=alice credential=`,
		`level=INFO msg=assertion rp=nobody.example credentials=0 up=true status=CTAP2_ERR_NO_CREDENTIALS`,
		`level=INFO msg=reset status=CTAP2_ERR_OPERATION_DENIED`,
		`level=DEBUG msg="CTAP command" command=authenticatorMakeCredential status=CTAP2_OK`,
		`level=DEBUG msg="CTAP command" command=authenticatorGetAssertion status=CTAP2_ERR_NO_CREDENTIALS`,
		`level=INFO msg="wink: the host asks this authenticator to identify itself"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Status
	}{
		{nil, CTAP2OK},
		{&StatusError{Status: CTAP2ErrNoCredentials}, CTAP2ErrNoCredentials},
		{fmt.Errorf("outer: %w", statusErrorf(CTAP2ErrNotAllowed, "inner %d", 1)), CTAP2ErrNotAllowed},
		{errors.New("surprise"), CTAP1ErrOther},
		{keystore.ErrNotFound, CTAP1ErrOther},
	} {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if s := CTAP2ErrPUATRequired.String(); s != "CTAP2_ERR_PUAT_REQUIRED" {
		t.Errorf("String %q", s)
	}
	if s := Status(0x99).String(); s != "CTAP status 0x99" {
		t.Errorf("String of an unnamed status %q", s)
	}
	err := statusErrorf(CTAP2ErrInvalidOption, "bad %s", "thing")
	if err.Error() != "CTAP2_ERR_INVALID_OPTION: bad thing" {
		t.Errorf("Error %q", err.Error())
	}
	inner := errors.New("inner")
	if !errors.Is(&StatusError{Status: CTAP1ErrOther, Err: inner}, inner) {
		t.Error("StatusError does not unwrap")
	}
	if (&StatusError{Status: CTAP2OK}).Error() != "CTAP2_OK" {
		t.Error("Error without detail")
	}
}

func TestAuthenticatorDataMarshal(t *testing.T) {
	rpIDHash := [32]byte{1}
	for _, tc := range []struct {
		name  string
		data  authenticatorData
		flags byte
		len   int
	}{
		{"assertion", authenticatorData{rpIDHash: rpIDHash, flags: flagUP, signCount: 0x01020304}, flagUP, 37},
		{"silent", authenticatorData{rpIDHash: rpIDHash, signCount: 7}, 0, 37},
		{"with extensions", authenticatorData{rpIDHash: rpIDHash, flags: flagUP | flagUV, extensions: []byte{0xa0}}, flagUP | flagUV | flagED, 38},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.data.marshal(0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.len || b[32] != tc.flags || !bytes.Equal(b[:32], rpIDHash[:]) {
				t.Fatalf("authData %x", b)
			}
			if got := uint32(b[33])<<24 | uint32(b[34])<<16 | uint32(b[35])<<8 | uint32(b[36]); got != tc.data.signCount {
				t.Fatalf("signCount %d", got)
			}
		})
	}
	if _, err := (&authenticatorData{attestedCredential: &keystore.Credential{ID: make([]byte, 0x10000)}}).marshal(0); err == nil {
		t.Fatal("a credential ID longer than 65535 bytes was accepted")
	}
}
