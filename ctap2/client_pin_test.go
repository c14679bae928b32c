package ctap2_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

var protocols = []int{pinuv.ProtocolOneVersion, pinuv.ProtocolTwoVersion}

// TestSetPINAndRetries: setPIN once, then wrong and right PINs move the
// persistent retry counter, with both protocols.
func TestSetPINAndRetries(t *testing.T) {
	for _, version := range protocols {
		t.Run(fmt.Sprintf("protocol %d", version), func(t *testing.T) {
			d := newDevice(t)
			ctx := t.Context()
			_, _, err := d.c.PINRetries(ctx)
			want(t, "fresh pinRetries", err, ctap2.CTAP2ErrPinNotSet)
			_, err = d.c.GetPinUvAuthTokenUsingPIN(ctx, version, "1234", pinuv.PermissionMC, "")
			want(t, "token before any PIN", err, ctap2.CTAP2ErrPinNotSet)
			if d.info().Options["clientPin"] {
				t.Fatal("clientPin true before setPIN")
			}
			if err := d.c.SetPIN(ctx, version, "1234"); err != nil {
				t.Fatal(err)
			}
			if !d.info().Options["clientPin"] {
				t.Fatal("clientPin false after setPIN")
			}
			want(t, "second setPIN", d.c.SetPIN(ctx, version, "5678"), ctap2.CTAP2ErrPinAuthInvalid)

			_, err = d.c.GetPinUvAuthTokenUsingPIN(ctx, version, "4321", pinuv.PermissionMC, "")
			want(t, "wrong PIN", err, ctap2.CTAP2ErrPinInvalid)
			if retries, _, _ := d.c.PINRetries(ctx); retries != 7 {
				t.Fatalf("pinRetries %d after a wrong PIN, want 7", retries)
			}
			d.restart()
			if retries, powerCycle, _ := d.c.PINRetries(ctx); retries != 7 || powerCycle {
				t.Fatalf("pinRetries %d, powerCycle %v after a restart, want 7 and false", retries, powerCycle)
			}
			if _, err := d.c.GetPinToken(ctx, version, "1234"); err != nil {
				t.Fatalf("getPinToken: %v", err)
			}
			if retries, _, _ := d.c.PINRetries(ctx); retries != 8 {
				t.Fatalf("pinRetries %d after the right PIN, want 8", retries)
			}
			if err := d.c.SetPIN(ctx, version, strings.Repeat("x", 64)); err == nil {
				t.Fatal("the client padded a 64-byte PIN")
			}
		})
	}
}

// setPINRaw sends setPIN with paddedNewPin as given, which the client
// would refuse to send.
func (d *device) setPINRaw(version int, padded []byte) ctap2.Status {
	d.t.Helper()
	p := d.platform(version)
	newPinEnc := p.encrypt(d.t, padded)
	status, _ := d.raw(cmdClientPIN, map[int]any{
		1: version, 2: 0x03, 3: p.platformKey, 4: p.p.Authenticate(p.secret, newPinEnc), 5: newPinEnc,
	})
	return status
}

func pad(pin string, n int) []byte {
	b := make([]byte, n)
	copy(b, pin)
	return b
}

// TestPINRules: length in code points (at least 4, or the configured
// minimum), at most 63 bytes, the 64-byte padding, no NUL, valid UTF-8.
func TestPINRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		padded []byte
		want   ctap2.Status
	}{
		{"4 digits", pad("1234", 64), ctap2.CTAP2OK},
		{"3 digits", pad("123", 64), ctap2.CTAP2ErrPinPolicyViolation},
		{"4 code points in 10 bytes", pad("é€😀ß", 64), ctap2.CTAP2OK},
		{"3 code points in 9 bytes", pad("€€€", 64), ctap2.CTAP2ErrPinPolicyViolation},
		{"63 bytes", pad(strings.Repeat("7", 63), 64), ctap2.CTAP2OK},
		{"64 bytes", []byte(strings.Repeat("7", 64)), ctap2.CTAP2ErrPinPolicyViolation},
		{"padded to 48", pad("1234", 48), ctap2.CTAP1ErrInvalidParameter},
		{"padded to 80", pad("1234", 80), ctap2.CTAP1ErrInvalidParameter},
		{"NUL inside", pad("12\x0034", 64), ctap2.CTAP2ErrPinPolicyViolation},
		{"invalid UTF-8", pad("12\xff\xfe34", 64), ctap2.CTAP2ErrPinPolicyViolation},
	} {
		for _, version := range protocols {
			t.Run(fmt.Sprintf("%s protocol %d", tc.name, version), func(t *testing.T) {
				d := newDevice(t)
				if got := d.setPINRaw(version, tc.padded); got != tc.want {
					t.Fatalf("setPIN: %v, want %v", got, tc.want)
				}
				if set := d.info().Options["clientPin"]; set != (tc.want == ctap2.CTAP2OK) {
					t.Fatalf("clientPin %v after %v", set, tc.want)
				}
				if tc.want == ctap2.CTAP2OK {
					pin := string(bytes.TrimRight(tc.padded, "\x00"))
					if _, err := d.c.GetPinToken(t.Context(), version, pin); err != nil {
						t.Fatalf("the PIN just set does not verify: %v", err)
					}
				}
			})
		}
	}
}

// TestPINLockout: the third wrong PIN in a row blocks PIN entry until a
// power cycle (the control API's PowerCycle or a restart); the eighth
// wrong PIN blocks the PIN for good, also across restarts.
func TestPINLockout(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	wrong := func(version int, want ctap2.Status) {
		t.Helper()
		_, err := d.c.GetPinUvAuthTokenUsingPIN(ctx, version, "0000", pinuv.PermissionGA, "")
		if got := statusOf(err); got != want {
			t.Fatalf("wrong PIN: %v, want %v", got, want)
		}
	}
	retries := func(want int, wantPowerCycle bool) {
		t.Helper()
		n, powerCycle, err := d.c.PINRetries(ctx)
		if err != nil || n != want || powerCycle != wantPowerCycle {
			t.Fatalf("pinRetries %d, powerCycle %v (%v), want %d, %v", n, powerCycle, err, want, wantPowerCycle)
		}
	}
	wrong(2, ctap2.CTAP2ErrPinInvalid)
	wrong(1, ctap2.CTAP2ErrPinInvalid)
	wrong(2, ctap2.CTAP2ErrPinAuthBlocked)
	retries(5, true)
	_, err := d.c.GetPinToken(ctx, 1, "1234")
	want(t, "the right PIN while blocked", err, ctap2.CTAP2ErrPinAuthBlocked)
	want(t, "changePIN while blocked", d.c.ChangePIN(ctx, 2, "1234", "5678"), ctap2.CTAP2ErrPinAuthBlocked)
	retries(5, true) // refused attempts cost nothing

	if err := d.a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	retries(5, false)
	if _, err := d.c.GetPinToken(ctx, 1, "1234"); err != nil {
		t.Fatalf("the right PIN after a power cycle: %v", err)
	}
	retries(8, false)

	// Down to zero, with a restart (a power cycle too) after every third.
	for i := 1; i <= 8; i++ {
		switch {
		case i == 8:
			wrong(2, ctap2.CTAP2ErrPinBlocked)
		case i%3 == 0:
			wrong(2, ctap2.CTAP2ErrPinAuthBlocked)
			d.restart()
		default:
			wrong(2, ctap2.CTAP2ErrPinInvalid)
		}
	}
	retries(0, false)
	_, err = d.c.GetPinToken(ctx, 2, "1234")
	want(t, "the right PIN when blocked", err, ctap2.CTAP2ErrPinBlocked)
	d.restart()
	retries(0, false)
	_, err = d.c.GetPinUvAuthTokenUsingPIN(ctx, 1, "1234", pinuv.PermissionMC, "")
	want(t, "the right PIN when blocked, after a restart", err, ctap2.CTAP2ErrPinBlocked)

	// Only authenticatorReset helps (within 10 s of power-up).
	if status, _ := d.raw(cmdReset, nil); status != ctap2.CTAP2OK {
		t.Fatalf("reset: %v", status)
	}
	_, _, err = d.c.PINRetries(ctx)
	want(t, "getPINRetries after reset", err, ctap2.CTAP2ErrPinNotSet)
	if st := d.a.PINStatus(); st.PINRetries != 8 {
		t.Fatalf("pinRetries %d after reset", st.PINRetries)
	}
	if d.info().Options["clientPin"] {
		t.Fatal("clientPin after reset")
	}
}

// blobLog is a keystore that records the PIN state it writes and can fail
// writes from the nth on.
type blobLog struct {
	keystore.Keystore
	writes  [][]byte
	failAt  int // 0: never
	putBlob int
}

func (b *blobLog) PutBlob(name string, data []byte) error {
	b.putBlob++
	if b.failAt != 0 && b.putBlob >= b.failAt {
		return fmt.Errorf("disk full")
	}
	b.writes = append(b.writes, bytes.Clone(data))
	return b.Keystore.PutBlob(name, data)
}

// retriesIn decodes pinRetries (key 3) from a written PIN state.
func retriesIn(t *testing.T, record []byte) int {
	t.Helper()
	var m map[int]any
	if err := cbor.Unmarshal(record, &m); err != nil {
		t.Fatal(err)
	}
	n, _ := m[3].(uint64)
	return int(n)
}

// TestPINRetryWrittenBeforeCompare: the decremented counter is on disk
// before the PIN is compared, so that losing power during a PIN check
// never gives a free try; a failed write stops the check.
func TestPINRetryWrittenBeforeCompare(t *testing.T) {
	d := newDevice(t)
	if err := d.c.SetPIN(t.Context(), 2, "1234"); err != nil {
		t.Fatal(err)
	}
	log := &blobLog{Keystore: d.store}
	a, err := ctap2.New(ctap2.Config{Keystore: log, Presence: d.presence, Clock: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	d.a, d.c = a, newClient(a)
	d.token(2, "1234", pinuv.PermissionMC, "")
	if len(log.writes) != 2 || retriesIn(t, log.writes[0]) != 7 || retriesIn(t, log.writes[1]) != 8 {
		t.Fatalf("a right PIN wrote %d records, want 7 retries then 8", len(log.writes))
	}

	// The restore fails: the attempt is lost (as after a crash), and the
	// counter on disk shows it.
	log.failAt = log.putBlob + 2
	_, err = d.c.GetPinUvAuthTokenUsingPIN(t.Context(), 2, "1234", pinuv.PermissionMC, "")
	want(t, "the right PIN when the restore fails", err, ctap2.CTAP1ErrOther)
	d.restart()
	if retries, _, _ := d.c.PINRetries(t.Context()); retries != 7 {
		t.Fatalf("pinRetries %d after an interrupted check, want 7", retries)
	}

	// The decrement fails: no comparison, no token.
	log = &blobLog{Keystore: d.store, failAt: 1}
	if d.a, err = ctap2.New(ctap2.Config{Keystore: log, Presence: d.presence, Clock: d.clock}); err != nil {
		t.Fatal(err)
	}
	d.c = newClient(d.a)
	_, err = d.c.GetPinUvAuthTokenUsingPIN(t.Context(), 2, "1234", pinuv.PermissionMC, "")
	want(t, "a PIN check that cannot count", err, ctap2.CTAP1ErrOther)
}

// TestChangePIN: the old PIN is checked like any PIN attempt; afterwards
// the new PIN works, the old one does not, and earlier tokens are void.
func TestChangePIN(t *testing.T) {
	for _, version := range protocols {
		t.Run(fmt.Sprintf("protocol %d", version), func(t *testing.T) {
			d := newDevice(t)
			ctx := t.Context()
			want(t, "changePIN without a PIN", d.c.ChangePIN(ctx, version, "1234", "5678"), ctap2.CTAP2ErrPinNotSet)
			if err := d.c.SetPIN(ctx, version, "1234"); err != nil {
				t.Fatal(err)
			}
			before := d.token(version, "1234", pinuv.PermissionMC, "")
			want(t, "changePIN with a wrong PIN", d.c.ChangePIN(ctx, version, "9999", "5678"), ctap2.CTAP2ErrPinInvalid)
			if retries, _, _ := d.c.PINRetries(ctx); retries != 7 {
				t.Fatalf("pinRetries %d", retries)
			}
			want(t, "changePIN to a short PIN", d.c.ChangePIN(ctx, version, "1234", "567"), ctap2.CTAP2ErrPinPolicyViolation)
			if err := d.c.ChangePIN(ctx, version, "1234", "5678"); err != nil {
				t.Fatalf("changePIN: %v", err)
			}
			if retries, _, _ := d.c.PINRetries(ctx); retries != 8 {
				t.Fatalf("pinRetries %d after changePIN", retries)
			}
			_, err := d.c.MakeCredential(ctx, mcRequest("example.com", "alice", false, before))
			want(t, "a token from before changePIN", err, ctap2.CTAP2ErrPinAuthInvalid)
			_, err = d.c.GetPinToken(ctx, version, "1234")
			want(t, "the old PIN", err, ctap2.CTAP2ErrPinInvalid)
			d.token(version, "5678", pinuv.PermissionMC, "")
		})
	}
}

// TestTokenPermissions: a token works for the operations its permissions
// name, for its RP ID (or the first RP it is used with), and vouches for
// one verified user only.
func TestTokenPermissions(t *testing.T) {
	eachProtocolWithPIN(t, func(t *testing.T, d *device, version int) {
		ctx := t.Context()
		ga := d.token(version, "1234", pinuv.PermissionGA, "")
		_, err := d.c.MakeCredential(ctx, mcRequest("example.com", "alice", true, ga))
		want(t, "makeCredential with a ga token", err, ctap2.CTAP2ErrPinAuthInvalid)

		bound := d.token(version, "1234", pinuv.PermissionMC|pinuv.PermissionGA, "example.com")
		_, err = d.c.MakeCredential(ctx, mcRequest("other.example", "alice", true, bound))
		want(t, "makeCredential for another RP", err, ctap2.CTAP2ErrPinAuthInvalid)
		d.presence.count()
		id, resp := d.register(mcRequest("example.com", "alice", true, bound))
		if f := flags(t, resp.AuthData); f&(flagUP|flagUV) != flagUP|flagUV {
			t.Fatalf("flags 0x%02x, want UP and UV", f)
		}
		if n := d.presence.count(); n != 1 {
			t.Fatalf("presence asked %d times: a PIN token carries no presence", n)
		}
		_, err = d.c.MakeCredential(ctx, mcRequest("example.com", "bob", true, bound))
		want(t, "a token used once already", err, ctap2.CTAP2ErrPinAuthInvalid)
		_, err = d.c.GetAssertion(ctx, gaRequest("example.com", bound))
		want(t, "a token whose ga permission makeCredential spent", err, ctap2.CTAP2ErrPinAuthInvalid)

		// A token without an RP ID takes the first one it is used for.
		open := d.token(version, "1234", pinuv.PermissionGA, "")
		as, err := d.c.GetAssertion(ctx, gaRequest("example.com", open, id))
		if err != nil {
			t.Fatal(err)
		}
		if f := flags(t, as.AuthData); f&flagUV == 0 || as.User == nil || as.User.Name != "alice" {
			t.Fatalf("assertion flags 0x%02x, user %+v: want UV and the user's name", f, as.User)
		}
		// Without a token, the same assertion has no UV and no name.
		as, err = d.c.GetAssertion(ctx, gaRequest("example.com", nil, id))
		if err != nil {
			t.Fatal(err)
		}
		if f := flags(t, as.AuthData); f&flagUV != 0 || as.User.Name != "" {
			t.Fatalf("assertion without a token: flags 0x%02x, user %+v", f, as.User)
		}
		// A forged pinUvAuthParam.
		req := gaRequest("example.com", d.token(version, "1234", pinuv.PermissionGA, ""), id)
		req.PinUvAuthParam[0] ^= 1
		_, err = d.c.GetAssertion(ctx, req)
		want(t, "a forged pinUvAuthParam", err, ctap2.CTAP2ErrPinAuthInvalid)
	})
}

// TestTokenExpiry: a token not used within 30 seconds stops; one in use
// lasts at most 10 minutes; a power cycle voids it.
func TestTokenExpiry(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	metadata := func(tok *client.Token, want ctap2.Status) {
		t.Helper()
		_, err := d.cm(tok).Metadata(ctx)
		if got := statusOf(err); got != want {
			t.Fatalf("getCredsMetadata: %v, want %v", got, want)
		}
	}
	idle := d.token(2, "1234", pinuv.PermissionCM, "")
	d.clock.advance(30 * time.Second)
	metadata(idle, ctap2.CTAP2ErrPinAuthInvalid)

	used := d.token(2, "1234", pinuv.PermissionCM, "")
	d.clock.advance(29 * time.Second)
	metadata(used, ctap2.CTAP2OK)
	d.clock.advance(5 * time.Minute)
	metadata(used, ctap2.CTAP2OK)
	d.clock.advance(5 * time.Minute)
	metadata(used, ctap2.CTAP2ErrPinAuthInvalid)

	cycled := d.token(2, "1234", pinuv.PermissionCM, "")
	if err := d.a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	metadata(cycled, ctap2.CTAP2ErrPinAuthInvalid)
}

// TestClientPINErrors sends malformed and refused authenticatorClientPIN
// requests.
func TestClientPINErrors(t *testing.T) {
	d := newDevice(t)
	p := d.platform(2)
	key := p.platformKey
	badKey := *key
	badKey.Y = bytes.Clone(key.Y)
	badKey.Y[31] ^= 1 // not on the curve
	pinHashEnc := p.encrypt(t, make([]byte, 16))
	for _, tc := range []struct {
		name   string
		params map[int]any
		want   ctap2.Status
	}{
		{"no subCommand", map[int]any{1: 2}, ctap2.CTAP2ErrMissingParameter},
		{"unknown subCommand", map[int]any{1: 2, 2: 0x08}, ctap2.CTAP2ErrInvalidSubcommand},
		{"subCommand as text", map[int]any{1: 2, 2: "getKeyAgreement"}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"getKeyAgreement without protocol", map[int]any{2: 0x02}, ctap2.CTAP2ErrMissingParameter},
		{"getKeyAgreement protocol 3", map[int]any{1: 3, 2: 0x02}, ctap2.CTAP1ErrInvalidParameter},
		{"setPIN without keyAgreement", map[int]any{1: 2, 2: 0x03, 4: []byte{1}, 5: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"setPIN without newPinEnc", map[int]any{1: 2, 2: 0x03, 3: key, 4: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"setPIN without pinUvAuthParam", map[int]any{1: 2, 2: 0x03, 3: key, 5: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"setPIN keyAgreement not a map", map[int]any{1: 2, 2: 0x03, 3: []byte{1}, 4: []byte{1}, 5: []byte{1}}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"setPIN key off the curve", map[int]any{1: 2, 2: 0x03, 3: &badKey, 4: []byte{1}, 5: []byte{1}}, ctap2.CTAP1ErrInvalidParameter},
		{"setPIN bad pinUvAuthParam", map[int]any{1: 2, 2: 0x03, 3: key, 4: make([]byte, 32), 5: make([]byte, 80)}, ctap2.CTAP2ErrPinAuthInvalid},
		{"changePIN without a PIN", map[int]any{1: 2, 2: 0x04, 3: key, 4: make([]byte, 32), 5: make([]byte, 80), 6: pinHashEnc}, ctap2.CTAP2ErrPinNotSet},
		{"changePIN without pinHashEnc", map[int]any{1: 2, 2: 0x04, 3: key, 4: make([]byte, 32), 5: make([]byte, 80)}, ctap2.CTAP2ErrMissingParameter},
		{"getPinToken without a PIN", map[int]any{1: 2, 2: 0x05, 3: key, 6: pinHashEnc}, ctap2.CTAP2ErrPinNotSet},
		{"getPinToken with permissions", map[int]any{1: 2, 2: 0x05, 3: key, 6: pinHashEnc, 9: 1}, ctap2.CTAP1ErrInvalidParameter},
		{"getPinToken with rpId", map[int]any{1: 2, 2: 0x05, 3: key, 6: pinHashEnc, 10: "example.com"}, ctap2.CTAP1ErrInvalidParameter},
		{"usingPin without permissions", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc}, ctap2.CTAP2ErrMissingParameter},
		{"usingPin permissions 0", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 0}, ctap2.CTAP1ErrInvalidParameter},
		{"usingPin be", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 0x08}, ctap2.CTAP2ErrUnauthorizedPermission},
		{"usingPin lbw and be", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 0x18}, ctap2.CTAP2ErrUnauthorizedPermission},
		{"usingPin lbw without a PIN", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 0x10}, ctap2.CTAP2ErrPinNotSet},
		{"usingPin rpId not text", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 1, 10: []byte("x")}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"usingPin without a PIN", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: 0x03}, ctap2.CTAP2ErrPinNotSet},
		{"pinUvAuthParam as text", map[int]any{1: 2, 2: 0x03, 3: key, 4: "x", 5: []byte{1}}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"permissions as text", map[int]any{1: 2, 2: 0x09, 3: key, 6: pinHashEnc, 9: "mc"}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"setPIN newPinEnc not whole blocks", map[int]any{1: 2, 2: 0x03, 3: key, 4: p.p.Authenticate(p.secret, make([]byte, 20)), 5: make([]byte, 20)}, ctap2.CTAP2ErrPinAuthInvalid},
		{"usingUv without built-in UV", map[int]any{1: 2, 2: 0x06, 3: key, 9: 0x03}, ctap2.CTAP2ErrInvalidSubcommand},
		{"getUVRetries without built-in UV", map[int]any{2: 0x07}, ctap2.CTAP2ErrInvalidSubcommand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := d.raw(cmdClientPIN, tc.params); got != tc.want {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}
	if st := d.a.PINStatus(); st.PINRetries != 8 {
		t.Fatalf("pinRetries %d after refused requests", st.PINRetries)
	}
	if d.presence.count() != 0 {
		t.Fatal("the user was asked")
	}
}

// TestBuiltInUV: getPinUvAuthTokenUsingUvWithPermissions and the "uv"
// option ask Config.UV; refusals count down uvRetries (on disk), timeouts
// and cancellations do not, and the right PIN unblocks built-in UV.
func TestBuiltInUV(t *testing.T) {
	d := newDevice(t, withUV)
	ctx := t.Context()
	if n, err := d.c.UVRetries(ctx); err != nil || n != ctap2.MaxUVRetries {
		t.Fatalf("uvRetries %d, %v", n, err)
	}
	inf := d.info()
	if !inf.Options["uv"] || !inf.Options["pinUvAuthToken"] || inf.Options["clientPin"] {
		t.Fatalf("options %v", inf.Options)
	}

	// A token through built-in UV carries presence: makeCredential asks no
	// more.
	tok, err := d.c.GetPinUvAuthTokenUsingUV(ctx, 2, pinuv.PermissionMC, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if d.uv.count() != 1 {
		t.Fatal("built-in UV not asked once")
	}
	_, resp := d.register(mcRequest("example.com", "alice", true, tok))
	if f := flags(t, resp.AuthData); f&(flagUP|flagUV) != flagUP|flagUV {
		t.Fatalf("flags 0x%02x", f)
	}
	if n := d.presence.count(); n != 0 {
		t.Fatalf("presence asked %d times after built-in UV", n)
	}

	// "uv" option: one prompt, of built-in UV, gives UP and UV.
	req := mcRequest("example.com", "bob", true, nil)
	req.Options["uv"] = true
	id, resp := d.register(req)
	if f := flags(t, resp.AuthData); f&(flagUP|flagUV) != flagUP|flagUV || d.uv.count() != 1 || d.presence.count() != 0 {
		t.Fatalf("uv option: flags 0x%02x", f)
	}
	ga := gaRequest("example.com", nil, id)
	ga.Options = map[string]bool{"uv": true}
	as, err := d.c.GetAssertion(ctx, ga)
	if err != nil {
		t.Fatal(err)
	}
	if f := flags(t, as.AuthData); f&(flagUP|flagUV) != flagUP|flagUV || as.User.Name != "bob" {
		t.Fatalf("assertion with uv: flags 0x%02x, user %+v", f, as.User)
	}
	// Without user verification, a protected authenticator makes no
	// discoverable credential.
	_, err = d.c.MakeCredential(ctx, mcRequest("example.com", "carol", true, nil))
	want(t, "discoverable credential without UV, no PIN", err, ctap2.CTAP2ErrOperationDenied)

	// Refusals, a timeout and a cancellation.
	d.uv.then(ctap2.ErrDenied)
	_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 1, pinuv.PermissionGA, "")
	want(t, "refused UV", err, ctap2.CTAP2ErrUVInvalid)
	d.uv.then(ctap2.ErrTimeout)
	_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 1, pinuv.PermissionGA, "")
	want(t, "unanswered UV", err, ctap2.CTAP2ErrUserActionTimeout)
	d.uv.then(context.Canceled)
	_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 1, pinuv.PermissionGA, "")
	want(t, "cancelled UV", err, ctap2.CTAP2ErrKeepaliveCancel)
	d.uv.then(ctap2.ErrDenied)
	_, err = d.c.MakeCredential(ctx, req)
	want(t, "refused UV in makeCredential", err, ctap2.CTAP2ErrOperationDenied)
	d.restart()
	if n, _ := d.c.UVRetries(ctx); n != ctap2.MaxUVRetries-2 {
		t.Fatalf("uvRetries %d after two refusals and a restart", n)
	}
	for range ctap2.MaxUVRetries - 3 {
		d.uv.then(ctap2.ErrDenied)
		_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 2, pinuv.PermissionGA, "")
		want(t, "refused UV", err, ctap2.CTAP2ErrUVInvalid)
	}
	d.uv.then(ctap2.ErrDenied)
	_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 2, pinuv.PermissionGA, "")
	want(t, "the last refusal", err, ctap2.CTAP2ErrUVBlocked)
	d.uv.count()
	_, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 2, pinuv.PermissionGA, "")
	want(t, "UV when blocked", err, ctap2.CTAP2ErrUVBlocked)
	_, err = d.c.GetAssertion(ctx, ga)
	want(t, "uv option when blocked", err, ctap2.CTAP2ErrPinBlocked)
	if n := d.uv.count(); n != 0 {
		t.Fatalf("blocked built-in UV asked %d times", n)
	}

	// The PIN unblocks built-in UV.
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	d.token(2, "1234", pinuv.PermissionGA, "")
	if n, _ := d.c.UVRetries(ctx); n != ctap2.MaxUVRetries {
		t.Fatalf("uvRetries %d after the right PIN", n)
	}
	if _, err := d.c.GetPinUvAuthTokenUsingUV(ctx, 2, pinuv.PermissionGA|pinuv.PermissionCM|pinuv.PermissionACFG, ""); err != nil {
		t.Fatalf("UV after the PIN: %v", err)
	}
}

// TestZeroLengthPinUvAuthParam: the probe platforms use to let the user
// pick an authenticator waits for a touch, then answers PIN_NOT_SET or
// PIN_INVALID; a refusal or no answer is OPERATION_DENIED.
func TestZeroLengthPinUvAuthParam(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pin     bool
		answer  error
		want    ctap2.Status
		command byte
	}{
		{"no PIN", false, nil, ctap2.CTAP2ErrPinNotSet, cmdMakeCredential},
		{"PIN set", true, nil, ctap2.CTAP2ErrPinInvalid, cmdMakeCredential},
		{"PIN set, getAssertion", true, nil, ctap2.CTAP2ErrPinInvalid, cmdGetAssertion},
		{"refused", true, ctap2.ErrDenied, ctap2.CTAP2ErrOperationDenied, cmdMakeCredential},
		{"no answer", false, ctap2.ErrTimeout, ctap2.CTAP2ErrOperationDenied, cmdGetAssertion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t)
			if tc.pin {
				if err := d.c.SetPIN(t.Context(), 2, "1234"); err != nil {
					t.Fatal(err)
				}
			}
			d.presence.then(tc.answer)
			var params any
			if tc.command == cmdMakeCredential {
				req := mcRequest("example.com", "alice", true, nil)
				params = map[int]any{1: req.ClientDataHash, 2: req.RP, 3: req.User, 4: req.PubKeyCredParams, 8: []byte{}, 9: 1}
			} else {
				params = map[int]any{1: "example.com", 2: testClientDataHash[:], 6: []byte{}, 9: 2}
			}
			if got, _ := d.raw(tc.command, params); got != tc.want {
				t.Fatalf("%v, want %v", got, tc.want)
			}
			if n := d.presence.count(); n != 1 {
				t.Fatalf("presence asked %d times", n)
			}
		})
	}
}

// TestProtectedMakeCredential: with a PIN, discoverable credentials need a
// pinUvAuthParam (PUAT_REQUIRED), non-discoverable ones do not
// (makeCredUvNotRqd) and then carry no UV flag.
func TestProtectedMakeCredential(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 1, "1234"); err != nil {
		t.Fatal(err)
	}
	_, err := d.c.MakeCredential(ctx, mcRequest("example.com", "alice", true, nil))
	want(t, "discoverable without UV", err, ctap2.CTAP2ErrPUATRequired)
	_, resp := d.register(mcRequest("example.com", "alice", false, nil))
	if f := flags(t, resp.AuthData); f&flagUV != 0 {
		t.Fatalf("flags 0x%02x: UV without verification", f)
	}
	req := mcRequest("example.com", "alice", true, nil)
	req.Options["uv"] = true
	_, err = d.c.MakeCredential(ctx, req)
	want(t, `"uv" without built-in UV`, err, ctap2.CTAP2ErrInvalidOption)
}

// TestAlwaysUV: with alwaysUv on, every makeCredential and getAssertion
// with user presence needs user verification; built-in UV is then used
// without the platform asking.
func TestAlwaysUV(t *testing.T) {
	t.Run("PIN", func(t *testing.T) {
		d := newDevice(t)
		ctx := t.Context()
		id, _ := d.register(mcRequest("example.com", "alice", false, nil))
		if err := d.c.ToggleAlwaysUV(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if inf := d.info(); !inf.Options["alwaysUv"] || inf.Options["makeCredUvNotRqd"] {
			t.Fatalf("options %v", inf.Options)
		}
		_, err := d.c.MakeCredential(ctx, mcRequest("example.com", "bob", false, nil))
		want(t, "makeCredential, alwaysUv without a PIN", err, ctap2.CTAP2ErrPUATRequired)
		if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
			t.Fatal(err)
		}
		_, err = d.c.MakeCredential(ctx, mcRequest("example.com", "bob", false, nil))
		want(t, "non-discoverable makeCredential without UV", err, ctap2.CTAP2ErrPUATRequired)
		_, err = d.c.GetAssertion(ctx, gaRequest("example.com", nil, id))
		want(t, "getAssertion without UV", err, ctap2.CTAP2ErrPUATRequired)
		silent := gaRequest("example.com", nil, id)
		silent.Options = map[string]bool{"up": false}
		if _, err := d.c.GetAssertion(ctx, silent); err != nil {
			t.Fatalf("silent getAssertion: %v", err)
		}
		tok := d.token(2, "1234", pinuv.PermissionMC, "")
		d.register(mcRequest("example.com", "bob", false, tok))
	})
	t.Run("built-in UV", func(t *testing.T) {
		d := newDevice(t, withUV)
		if err := d.c.ToggleAlwaysUV(t.Context(), d.token2uv(pinuv.PermissionACFG)); err != nil {
			t.Fatal(err)
		}
		d.uv.count()
		id, resp := d.register(mcRequest("example.com", "alice", false, nil))
		if f := flags(t, resp.AuthData); f&flagUV == 0 || d.uv.count() != 1 {
			t.Fatalf("flags 0x%02x: alwaysUv did not verify the user", f)
		}
		as, err := d.c.GetAssertion(t.Context(), gaRequest("example.com", nil, id))
		if err != nil || flags(t, as.AuthData)&flagUV == 0 {
			t.Fatalf("getAssertion under alwaysUv: %v", err)
		}
	})
}

// token2uv gets a token through built-in UV.
func (d *device) token2uv(permissions pinuv.Permission) *client.Token {
	d.t.Helper()
	tok, err := d.c.GetPinUvAuthTokenUsingUV(d.t.Context(), 2, permissions, "")
	if err != nil {
		d.t.Fatal(err)
	}
	return tok
}

// TestResetClearsPINState: authenticatorReset forgets the PIN, the
// settings and every token.
func TestResetClearsPINState(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "123456"); err != nil {
		t.Fatal(err)
	}
	acfg := d.token(2, "123456", pinuv.PermissionACFG|pinuv.PermissionGA, "")
	if err := d.c.SetMinPINLength(ctx, acfg, client.MinPINLength{NewMinPINLength: 6}); err != nil {
		t.Fatal(err)
	}
	if err := d.c.ToggleAlwaysUV(ctx, acfg); err != nil {
		t.Fatal(err)
	}
	_, err := d.c.GetPinToken(ctx, 2, "000000")
	want(t, "wrong PIN", err, ctap2.CTAP2ErrPinInvalid)
	if status, _ := d.raw(cmdReset, nil); status != ctap2.CTAP2OK {
		t.Fatalf("reset: %v", status)
	}
	inf := d.info()
	if inf.Options["clientPin"] || inf.Options["alwaysUv"] || inf.MinPINLength != 4 || inf.ForcePINChange {
		t.Fatalf("after reset: options %v, minPINLength %d", inf.Options, inf.MinPINLength)
	}
	_, _, err = d.c.PINRetries(ctx)
	want(t, "getPINRetries after reset", err, ctap2.CTAP2ErrPinNotSet)
	if st := d.a.PINStatus(); st.PINRetries != 8 {
		t.Fatalf("pinRetries %d after reset", st.PINRetries)
	}
	err = d.c.ToggleAlwaysUV(ctx, acfg) // no PIN now: no token needed
	want(t, "toggleAlwaysUv with a pre-reset token on an unprotected authenticator", err, ctap2.CTAP2OK)
	if err := d.c.SetPIN(ctx, 1, "1234"); err != nil {
		t.Fatalf("setPIN after reset: %v", err)
	}
	_, err = d.c.GetAssertion(ctx, gaRequest("example.com", acfg, []byte{1}))
	want(t, "a token from before the reset", err, ctap2.CTAP2ErrPinAuthInvalid)
}

// TestPINStateRecord: an unreadable or newer PIN state record stops the
// authenticator from starting rather than losing the retry counter.
func TestPINStateRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record any
	}{
		{"not CBOR", []byte{0xff}},
		{"newer version", map[int]any{0: 2, 3: 8, 4: 8, 6: 4}},
		{"retries out of range", map[int]any{0: 1, 3: 9, 4: 8, 6: 4}},
		{"short PIN hash", map[int]any{0: 1, 1: []byte{1, 2}, 3: 8, 4: 8, 6: 4}},
		{"minimum below 4", map[int]any{0: 1, 3: 8, 4: 8, 6: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t)
			raw, ok := tc.record.([]byte)
			if !ok {
				var err error
				if raw, err = cbor.Marshal(tc.record); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.store.PutBlob("ctap2/pin-state", raw); err != nil {
				t.Fatal(err)
			}
			if _, err := ctap2.New(ctap2.Config{Keystore: d.store}); err == nil {
				t.Fatal("New accepted a bad PIN state record")
			}
		})
	}
}

// TestPowerCycle: PowerCycle voids tokens, drops a pending enumeration and
// opens the reset window again, and keeps the PIN.
func TestPowerCycle(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	d.register(mcRequest("example.com", "alice", true, d.token(2, "1234", pinuv.PermissionMC, "")))
	d.register(mcRequest("other.example", "bob", true, d.token(2, "1234", pinuv.PermissionMC, "")))
	tok := d.token(2, "1234", pinuv.PermissionCM, "")
	if _, err := d.cm(tok).Metadata(ctx); err != nil {
		t.Fatal(err)
	}
	begin := map[int]any{1: 0x02, 3: 2, 4: tok.Param([]byte{0x02})}
	if got, _ := d.raw(cmdCredMgmt, begin); got != ctap2.CTAP2OK {
		t.Fatalf("enumerateRPsBegin: %v", got)
	}
	d.clock.advance(time.Minute)
	if got, _ := d.raw(cmdReset, nil); got != ctap2.CTAP2ErrNotAllowed {
		t.Fatalf("reset a minute after power-up: %v", got)
	}
	if got, _ := d.raw(cmdCredMgmt, begin); got != ctap2.CTAP2OK {
		t.Fatalf("enumerateRPsBegin: %v", got)
	}
	if err := d.a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.raw(cmdCredMgmt, map[int]any{1: 0x03}); got != ctap2.CTAP2ErrNotAllowed {
		t.Fatalf("enumerateRPsGetNextRP after a power cycle: %v", got)
	}
	_, err := d.cm(tok).Metadata(ctx)
	want(t, "a token from before the power cycle", err, ctap2.CTAP2ErrPinAuthInvalid)
	d.token(2, "1234", pinuv.PermissionCM, "")
	if got, _ := d.raw(cmdReset, nil); got != ctap2.CTAP2OK {
		t.Fatalf("reset right after a power cycle: %v", got)
	}
}

// TestClientPINErrorsWithPINAndUV: refused requests to an authenticator
// with a PIN and built-in UV cost no retries and ask nobody.
func TestClientPINErrorsWithPINAndUV(t *testing.T) {
	d := newDevice(t, withUV)
	if err := d.c.SetPIN(t.Context(), 1, "1234"); err != nil {
		t.Fatal(err)
	}
	p := d.platform(1)
	key := p.platformKey
	pinHashEnc := p.encrypt(t, make([]byte, 16))
	newPinEnc := p.encrypt(t, pad("5678", 64))
	for _, tc := range []struct {
		name   string
		params map[int]any
		want   ctap2.Status
	}{
		{"setPIN when set", map[int]any{1: 1, 2: 0x03, 3: key, 4: p.p.Authenticate(p.secret, newPinEnc), 5: newPinEnc}, ctap2.CTAP2ErrPinAuthInvalid},
		{"changePIN bad pinUvAuthParam", map[int]any{1: 1, 2: 0x04, 3: key, 4: make([]byte, 16), 5: newPinEnc, 6: pinHashEnc}, ctap2.CTAP2ErrPinAuthInvalid},
		{"changePIN protocol 3", map[int]any{1: 3, 2: 0x04, 3: key, 4: make([]byte, 16), 5: newPinEnc, 6: pinHashEnc}, ctap2.CTAP1ErrInvalidParameter},
		{"getPinToken without keyAgreement", map[int]any{1: 1, 2: 0x05, 6: pinHashEnc}, ctap2.CTAP2ErrMissingParameter},
		{"usingUv without keyAgreement", map[int]any{1: 1, 2: 0x06, 9: 0x01}, ctap2.CTAP2ErrMissingParameter},
		{"usingUv without permissions", map[int]any{1: 1, 2: 0x06, 3: key}, ctap2.CTAP2ErrMissingParameter},
		{"usingUv protocol 3", map[int]any{1: 3, 2: 0x06, 3: key, 9: 0x01}, ctap2.CTAP1ErrInvalidParameter},
		{"usingUv permissions 0", map[int]any{1: 1, 2: 0x06, 3: key, 9: 0}, ctap2.CTAP1ErrInvalidParameter},
		{"usingUv be", map[int]any{1: 1, 2: 0x06, 3: key, 9: 0x08}, ctap2.CTAP2ErrUnauthorizedPermission},
		{"usingUv key not a point", map[int]any{1: 1, 2: 0x06, 3: map[int]any{1: 2, 3: -25, -1: 1, -2: make([]byte, 32), -3: make([]byte, 32)}, 9: 0x01}, ctap2.CTAP1ErrInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := d.raw(cmdClientPIN, tc.params); got != tc.want {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}
	if retries, _, _ := d.c.PINRetries(t.Context()); retries != 8 {
		t.Fatalf("pinRetries %d after refused requests", retries)
	}
	if n, _ := d.c.UVRetries(t.Context()); n != ctap2.MaxUVRetries || d.uv.count() != 0 {
		t.Fatalf("uvRetries %d after refused requests, or the user was asked", n)
	}
}
