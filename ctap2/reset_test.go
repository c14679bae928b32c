package ctap2

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vauth/vauth/hid"
)

// TestReset: only within 10 seconds of power-up, only with the user's
// consent; then every credential is gone.
func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name     string
		after    time.Duration
		presence error
		want     Status
		asked    int
	}{
		{"at once", 0, nil, CTAP2OK, 1},
		{"after 10 s", 10 * time.Second, nil, CTAP2OK, 1},
		{"after 10.001 s", 10*time.Second + time.Millisecond, nil, CTAP2ErrNotAllowed, 0},
		{"after an hour", time.Hour, nil, CTAP2ErrNotAllowed, 0},
		{"denied", time.Second, ErrDenied, CTAP2ErrOperationDenied, 1},
		{"no answer", time.Second, ErrTimeout, CTAP2ErrUserActionTimeout, 1},
		{"cancelled", time.Second, context.Canceled, CTAP2ErrKeepaliveCancel, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t)
			resident := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true)).authData
			plain := d.register(makeCredentialParams("example.com", []byte("u2"), "bob", false)).authData
			d.presence.asked()

			d.clock.Advance(tc.after)
			d.presence.set(tc.presence)
			status, _ := d.call(CmdReset, nil)
			if status != tc.want {
				t.Fatalf("reset: %v, want %v", status, tc.want)
			}
			asked := d.presence.asked()
			if len(asked) != tc.asked || (tc.asked == 1 && asked[0].Op != "reset") {
				t.Fatalf("presence asked %+v", asked)
			}
			d.presence.set(nil)
			wantAfter := CTAP2OK
			if tc.want == CTAP2OK {
				wantAfter = CTAP2ErrNoCredentials
			}
			for _, id := range [][]byte{resident.credentialID, plain.credentialID} {
				if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com", id)); status != wantAfter {
					t.Errorf("getAssertion after reset: %v, want %v", status, wantAfter)
				}
			}
			if tc.want == CTAP2OK && remaining(t, d) != DefaultMaxDiscoverable {
				t.Error("discoverable credentials left after reset")
			}
		})
	}
}

// TestSelection: authenticatorSelection waits for the user.
func TestSelection(t *testing.T) {
	for _, tc := range []struct {
		presence error
		want     Status
	}{
		{nil, CTAP2OK},
		{ErrDenied, CTAP2ErrOperationDenied},
		{ErrTimeout, CTAP2ErrUserActionTimeout},
		{context.Canceled, CTAP2ErrKeepaliveCancel},
	} {
		d := newTestDevice(t)
		d.presence.set(tc.presence)
		resp := d.a.HandleCBOR(t.Context(), []byte{CmdSelection}, nil)
		if len(resp) != 1 || Status(resp[0]) != tc.want {
			t.Errorf("presence %v: response %x, want %v", tc.presence, resp, tc.want)
		}
		if asked := d.presence.asked(); len(asked) != 1 || asked[0] != (PresenceRequest{Op: "selection"}) {
			t.Errorf("presence asked %+v", asked)
		}
	}
}

// TestPresenceOutcomes maps every Presence answer to its status, for every
// command that asks, with the keepalive status up-needed while waiting.
func TestPresenceOutcomes(t *testing.T) {
	commands := []struct {
		name   string
		cmd    byte
		params func(d *testDevice) any
	}{
		{"makeCredential", CmdMakeCredential, func(*testDevice) any {
			return makeCredentialParams("example.com", []byte("u"), "alice", true)
		}},
		{"getAssertion", CmdGetAssertion, func(d *testDevice) any {
			d.presence.set(nil)
			id := d.register(makeCredentialParams("example.com", []byte("u"), "alice", false)).authData.credentialID
			return getAssertionParams("example.com", id)
		}},
		{"reset", CmdReset, func(*testDevice) any { return nil }},
		{"selection", CmdSelection, func(*testDevice) any { return nil }},
	}
	outcomes := []struct {
		name   string
		answer func(ctx context.Context) error
		cancel bool
		want   Status
	}{
		{"approved", func(context.Context) error { return nil }, false, CTAP2OK},
		{"denied", func(context.Context) error { return ErrDenied }, false, CTAP2ErrOperationDenied},
		{"denied, wrapped", func(context.Context) error { return errors.Join(errors.New("prompt closed"), ErrDenied) }, false, CTAP2ErrOperationDenied},
		{"timeout", func(context.Context) error { return ErrTimeout }, false, CTAP2ErrUserActionTimeout},
		{"prompt deadline", func(context.Context) error { return context.DeadlineExceeded }, false, CTAP2ErrUserActionTimeout},
		{"cancelled while waiting", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, CTAP2ErrKeepaliveCancel},
		{"broken prompt", func(context.Context) error { return errors.New("no display") }, false, CTAP2ErrOperationDenied}, // the user approved nothing
	}
	for _, c := range commands {
		for _, o := range outcomes {
			t.Run(c.name+"/"+o.name, func(t *testing.T) {
				d := newTestDevice(t)
				var params []byte
				if v := c.params(d); v != nil {
					params = encode(t, v)
				}
				d.presence.asked()
				d.presence.setFunc(o.answer)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if o.cancel {
					go func() { time.Sleep(10 * time.Millisecond); cancel() }()
				}
				var rec keepaliveRecorder
				resp := d.a.HandleCBOR(ctx, append([]byte{c.cmd}, params...), rec.keepalive())
				if Status(resp[0]) != o.want {
					t.Fatalf("%v, want %v", Status(resp[0]), o.want)
				}
				if want := []byte{hid.StatusUpNeeded, hid.StatusProcessing}; !slices.Equal(rec.statuses, want) {
					t.Fatalf("keepalive statuses %v, want %v", rec.statuses, want)
				}
				if n := len(d.presence.asked()); n != 1 {
					t.Fatalf("presence asked %d times", n)
				}
				d.presence.set(nil)
				d.mustGetInfo()
			})
		}
	}
}

// TestNoPresence: without a Presence nobody can approve anything.
func TestNoPresence(t *testing.T) {
	d := newTestDevice(t, func(c *Config) { c.Presence = nil })
	if status, _ := d.call(CmdMakeCredential, makeCredentialParams("example.com", []byte{1}, "alice", false)); status != CTAP2ErrOperationDenied {
		t.Fatalf("makeCredential: %v, want CTAP2_ERR_OPERATION_DENIED", status)
	}
	if status, _ := d.call(CmdSelection, nil); status != CTAP2ErrOperationDenied {
		t.Fatalf("selection: %v, want CTAP2_ERR_OPERATION_DENIED", status)
	}
}
