package pinuv

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sign makes the pinUvAuthParam a platform holding tok's value computes.
func sign(t *testing.T, tok *Token, p Protocol, msg []byte) []byte {
	t.Helper()
	v := tok.Value(p)
	if len(v) != PinUvAuthTokenLength {
		t.Fatalf("Value of protocol %d has %d bytes", p.Version(), len(v))
	}
	return p.Authenticate(v, msg)
}

func TestTokenInitialState(t *testing.T) {
	tok := NewToken(newFakeClock())
	p := mustNew(t, ProtocolTwoVersion)
	msg := []byte("clientDataHash")
	if tok.InUse() || tok.GetUserPresentFlagValue() || tok.GetUserVerifiedFlagValue() || tok.HasPermission(PermissionMC) {
		t.Fatal("a fresh token is in use or has flags or permissions")
	}
	if tok.Verify(p, msg, sign(t, tok, p, msg)) {
		t.Fatal("a token not in use verified (spec: verify returns error)")
	}
	if tok.AssociatePermissionsRPID("example.com") {
		t.Fatal("a token not in use took a permissions RP ID")
	}
	if _, ok := tok.PermissionsRPID(); ok {
		t.Fatal("a fresh token has a permissions RP ID")
	}
	one, two := tok.Value(mustNew(t, ProtocolOneVersion)), tok.Value(p)
	if bytes.Equal(one, two) {
		t.Fatal("the protocols share one pinUvAuthToken")
	}
}

// TestTokenUsageTimer walks the usage timer through the spec's limits: the
// initial usage time limit (30 s) unless the platform uses the token, the
// user present time limit (30 s), and the max usage time period (10 min).
func TestTokenUsageTimer(t *testing.T) {
	type step struct {
		advance time.Duration // before the checks
		use     bool          // the platform sends a pinUvAuthParam made with the token
		wantUse bool          // ... and it verifies
		inUse   bool
		up, uv  bool
	}
	cases := []struct {
		name          string
		userIsPresent bool
		steps         []step
	}{
		{"unused token stops at the initial usage time limit", true, []step{
			{advance: 0, inUse: true, up: true, uv: true},
			{advance: InitialUsageTimeLimit - time.Millisecond, inUse: true, up: true, uv: true},
			{advance: time.Millisecond, inUse: false},
			{use: true, wantUse: false, inUse: false},
		}},
		{"used token outlives the initial limit, loses UP, stops at max period", true, []step{
			{advance: 10 * time.Second, use: true, wantUse: true, inUse: true, up: true, uv: true},
			{advance: 20 * time.Second, inUse: true, up: false, uv: true},
			{advance: 5 * time.Minute, use: true, wantUse: true, inUse: true, uv: true},
			{advance: MaxUsageTimePeriod - 5*time.Minute - 30*time.Second - time.Millisecond, inUse: true, uv: true},
			{advance: time.Millisecond, inUse: false},
			{use: true, wantUse: false, inUse: false},
		}},
		{"token begun without user presence", false, []step{
			{use: true, wantUse: true, inUse: true, up: false, uv: true},
			{advance: time.Hour, use: true, wantUse: false, inUse: false},
		}},
		{"use exactly at the initial limit is too late", false, []step{
			{advance: InitialUsageTimeLimit, use: true, wantUse: false, inUse: false},
		}},
	}
	msg := []byte("clientDataHash")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			tok := NewToken(clock)
			p := mustNew(t, ProtocolOneVersion)
			tok.BeginUsingPinUvAuthToken(c.userIsPresent)
			for i, s := range c.steps {
				clock.Advance(s.advance)
				if s.use {
					if got := tok.Verify(p, msg, sign(t, tok, p, msg)); got != s.wantUse {
						t.Errorf("step %d: Verify = %v, want %v", i, got, s.wantUse)
					}
				}
				if got := tok.InUse(); got != s.inUse {
					t.Errorf("step %d: InUse = %v, want %v", i, got, s.inUse)
				}
				if got := tok.GetUserPresentFlagValue(); got != s.up {
					t.Errorf("step %d: userPresent = %v, want %v", i, got, s.up)
				}
				if got := tok.GetUserVerifiedFlagValue(); got != s.uv {
					t.Errorf("step %d: userVerified = %v, want %v", i, got, s.uv)
				}
			}
		})
	}
}

func TestTokenPermissions(t *testing.T) {
	cases := []struct {
		name    string
		granted Permission
		ask     Permission
		want    bool
	}{
		{"mc granted", PermissionMC | PermissionGA, PermissionMC, true},
		{"both granted", PermissionMC | PermissionGA, PermissionMC | PermissionGA, true},
		{"cm not granted", PermissionMC | PermissionGA, PermissionCM, false},
		{"one of two missing", PermissionMC, PermissionMC | PermissionGA, false},
		{"nothing asked", PermissionMC, 0, false},
		{"acfg", PermissionACFG, PermissionACFG, true},
		{"be", PermissionBE | PermissionLBW, PermissionBE, true},
	}
	for _, c := range cases {
		tok := NewToken(newFakeClock())
		tok.BeginUsingPinUvAuthToken(false)
		tok.SetPermissions(c.granted, "")
		if got := tok.HasPermission(c.ask); got != c.want {
			t.Errorf("%s: HasPermission(%#x) = %v, want %v", c.name, c.ask, got, c.want)
		}
	}

	if PermissionMC != 0x01 || PermissionGA != 0x02 || PermissionCM != 0x04 ||
		PermissionBE != 0x08 || PermissionLBW != 0x10 || PermissionACFG != 0x20 {
		t.Error("permission bits differ from §6.5.5.7")
	}

	tok := NewToken(newFakeClock())
	tok.BeginUsingPinUvAuthToken(false)
	tok.SetPermissions(PermissionMC|PermissionGA|PermissionLBW|PermissionCM, "")
	tok.ClearPinUvAuthTokenPermissionsExceptLbw()
	if !tok.HasPermission(PermissionLBW) || tok.HasPermission(PermissionMC) || tok.HasPermission(PermissionGA) || tok.HasPermission(PermissionCM) {
		t.Error("ClearPinUvAuthTokenPermissionsExceptLbw kept more than lbw")
	}
	tok.StopUsingPinUvAuthToken()
	if tok.HasPermission(PermissionLBW) {
		t.Error("a stopped token kept a permission")
	}
}

func TestTokenPermissionsRPID(t *testing.T) {
	cases := []struct {
		name    string
		granted string // SetPermissions's rpID
		assoc   []string
		want    []bool
		final   string
	}{
		{"first use binds", "", []string{"a.example", "a.example", "b.example"}, []bool{true, true, false}, "a.example"},
		{"granted binding", "a.example", []string{"b.example", "a.example"}, []bool{false, true}, "a.example"},
	}
	for _, c := range cases {
		tok := NewToken(newFakeClock())
		tok.BeginUsingPinUvAuthToken(false)
		tok.SetPermissions(PermissionMC, c.granted)
		for i, rp := range c.assoc {
			if got := tok.AssociatePermissionsRPID(rp); got != c.want[i] {
				t.Errorf("%s: AssociatePermissionsRPID(%q) = %v, want %v", c.name, rp, got, c.want[i])
			}
		}
		if rp, ok := tok.PermissionsRPID(); !ok || rp != c.final {
			t.Errorf("%s: PermissionsRPID = %q, %v, want %q", c.name, rp, ok, c.final)
		}
		tok.StopUsingPinUvAuthToken()
		tok.BeginUsingPinUvAuthToken(false)
		if _, ok := tok.PermissionsRPID(); ok {
			t.Errorf("%s: the permissions RP ID survived StopUsingPinUvAuthToken", c.name)
		}
	}
}

func TestTokenFlags(t *testing.T) {
	tok := NewToken(newFakeClock())
	tok.ClearUserPresentFlag() // not in use: nothing happens
	tok.BeginUsingPinUvAuthToken(true)
	if !tok.GetUserPresentFlagValue() || !tok.GetUserVerifiedFlagValue() {
		t.Fatal("BeginUsingPinUvAuthToken(true) did not set both flags")
	}
	tok.ClearUserPresentFlag()
	if tok.GetUserPresentFlagValue() || !tok.GetUserVerifiedFlagValue() {
		t.Fatal("ClearUserPresentFlag cleared the wrong flag")
	}
	tok.ClearUserVerifiedFlag()
	if tok.GetUserVerifiedFlagValue() {
		t.Fatal("ClearUserVerifiedFlag left the flag")
	}
	if !tok.InUse() {
		t.Fatal("clearing the flags stopped the token")
	}
}

func TestTokenReset(t *testing.T) {
	tok := NewToken(newFakeClock())
	p := mustNew(t, ProtocolTwoVersion)
	msg := []byte("msg")
	oldSig := sign(t, tok, p, msg)
	old := tok.Value(p)
	tok.BeginUsingPinUvAuthToken(true)
	tok.SetPermissions(PermissionCM, "a.example")

	tok.ResetPinUvAuthToken()
	if bytes.Equal(old, tok.Value(p)) {
		t.Fatal("ResetPinUvAuthToken kept the token")
	}
	if tok.InUse() || tok.HasPermission(PermissionCM) {
		t.Fatal("a reset token is still in use")
	}
	tok.BeginUsingPinUvAuthToken(false)
	if tok.Verify(p, msg, oldSig) {
		t.Fatal("the old token still verifies")
	}
	if _, ok := tok.PermissionsRPID(); ok {
		t.Fatal("the reset token kept its permissions RP ID")
	}
	if !tok.Verify(p, msg, sign(t, tok, p, msg)) {
		t.Fatal("the new token does not verify")
	}

	value := tok.Value(p)
	value[0] ^= 0xff
	if bytes.Equal(value, tok.Value(p)) {
		t.Fatal("Value returned the token's own memory")
	}
}

// A pinUvAuthToken belongs to one protocol: protocol one's token does not
// authenticate under protocol two, and the reverse.
func TestTokenCrossProtocol(t *testing.T) {
	tok := NewToken(newFakeClock())
	tok.BeginUsingPinUvAuthToken(false)
	one, two := mustNew(t, ProtocolOneVersion), mustNew(t, ProtocolTwoVersion)
	msg := []byte("msg")
	if tok.Verify(one, msg, one.Authenticate(tok.Value(two), msg)) {
		t.Error("protocol two's token verified under protocol one")
	}
	if tok.Verify(two, msg, two.Authenticate(tok.Value(one), msg)) {
		t.Error("protocol one's token verified under protocol two")
	}
}

func TestTokenConcurrent(t *testing.T) {
	clock := newFakeClock()
	tok := NewToken(clock)
	p := mustNew(t, ProtocolOneVersion)
	msg := []byte("msg")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				switch i % 4 {
				case 0:
					tok.BeginUsingPinUvAuthToken(true)
				case 1:
					tok.Verify(p, msg, p.Authenticate(tok.Value(p), msg))
				case 2:
					tok.AssociatePermissionsRPID("a.example")
					tok.ClearPinUvAuthTokenPermissionsExceptLbw()
				case 3:
					clock.Advance(time.Second)
					tok.GetUserPresentFlagValue()
				}
			}
		}()
	}
	wg.Wait()
}
