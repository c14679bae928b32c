package presence

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// gate is an inner Presence whose prompts stay open until the test answers.
type gate struct {
	asked     chan ctap2.PresenceRequest // one per prompt opened
	answers   chan error                 // each open prompt takes one
	cancelled chan ctap2.PresenceRequest // prompts whose context ended
}

func newGate() *gate {
	return &gate{
		asked:     make(chan ctap2.PresenceRequest, 16),
		answers:   make(chan error),
		cancelled: make(chan ctap2.PresenceRequest, 16),
	}
}

func (g *gate) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	g.asked <- req
	select {
	case err := <-g.answers:
		return err
	case <-ctx.Done():
		g.cancelled <- req
		return ctx.Err()
	}
}

// answer answers the open prompt; it fails when no prompt is waiting.
func (g *gate) answer(t *testing.T, err error) {
	t.Helper()
	select {
	case g.answers <- err:
	case <-time.After(5 * time.Second):
		t.Fatal("no open prompt to answer")
	}
}

// prompts says how many prompts were opened so far.
func (g *gate) prompts() int { return len(g.asked) }

// waiters is how many callers wait on the open prompt for req.
func waiters(d *dedupe, req ctap2.PresenceRequest) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sp := d.open[req]; sp != nil {
		return sp.waiters
	}
	return 0
}

// confirmAsync runs Confirm in a goroutine.
func confirmAsync(ctx context.Context, p ctap2.Presence, req ctap2.PresenceRequest) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Confirm(ctx, req) }()
	return done
}

func TestDedupeJoinsIdenticalRequests(t *testing.T) {
	for _, answer := range []error{nil, ctap2.ErrDenied, ctap2.ErrTimeout} {
		t.Run(errName(answer), func(t *testing.T) {
			g := newGate()
			d := Dedupe(g, 0).(*dedupe)
			var results []<-chan error
			for range 3 {
				results = append(results, confirmAsync(context.Background(), d, siteReq))
			}
			waitFor(t, func() bool { return waiters(d, siteReq) == 3 })
			g.answer(t, answer)
			for i, done := range results {
				if err := result(t, done); !errors.Is(err, answer) {
					t.Errorf("caller %d got %v, want %v", i, err, answer)
				}
			}
			if n := g.prompts(); n != 1 {
				t.Errorf("%d prompts for 3 identical requests, want 1", n)
			}
		})
	}
}

func TestDedupeDifferentRequestsPrompt(t *testing.T) {
	base := ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "alice"}
	tests := []struct {
		name  string
		other ctap2.PresenceRequest
	}{
		{"other site", ctap2.PresenceRequest{Op: "getAssertion", RPID: "evil.example", User: "alice"}},
		{"other account", ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "bob"}},
		{"other operation", ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com", User: "alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			d := Dedupe(g, time.Minute)
			a := confirmAsync(context.Background(), d, base)
			b := confirmAsync(context.Background(), d, tc.other)
			waitFor(t, func() bool { return g.prompts() == 2 })
			g.answer(t, nil)
			g.answer(t, nil)
			for _, done := range []<-chan error{a, b} {
				if err := result(t, done); err != nil {
					t.Errorf("Confirm = %v, want approval", err)
				}
			}
			// Each approval is spent only by its own request.
			c := confirmAsync(context.Background(), d, tc.other)
			if err := result(t, c); err != nil {
				t.Errorf("retry of the other request = %v, want reused approval", err)
			}
			if n := g.prompts(); n != 2 {
				t.Errorf("%d prompts, want 2", n)
			}
		})
	}
}

func TestDedupeReuseWindow(t *testing.T) {
	const window = 2 * time.Second
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	other := ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com", User: "mallory"}
	tests := []struct {
		name       string
		first      error                 // the answer to the first prompt
		retryAfter time.Duration         // when the identical retry comes
		retry      ctap2.PresenceRequest // the retried request
		wantPrompt bool                  // the retry opens a new prompt
	}{
		{name: "retry soon after approval", retryAfter: time.Second, retry: siteReq},
		{name: "retry at the end of the window", retryAfter: window, retry: siteReq},
		{name: "retry after the window", retryAfter: window + time.Millisecond, retry: siteReq, wantPrompt: true},
		{name: "other account within the window", retryAfter: time.Millisecond, retry: other, wantPrompt: true},
		{name: "denial is not reused", first: ctap2.ErrDenied, retryAfter: time.Millisecond, retry: siteReq, wantPrompt: true},
		{name: "timeout is not reused", first: ctap2.ErrTimeout, retryAfter: time.Millisecond, retry: siteReq, wantPrompt: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			d := Dedupe(g, window).(*dedupe)
			var mu sync.Mutex
			now := t0
			d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

			first := confirmAsync(context.Background(), d, siteReq)
			<-g.asked
			g.answer(t, tc.first)
			if err := result(t, first); !errors.Is(err, tc.first) {
				t.Fatalf("first Confirm = %v, want %v", err, tc.first)
			}
			mu.Lock()
			now = now.Add(tc.retryAfter)
			mu.Unlock()
			retry := confirmAsync(context.Background(), d, tc.retry)
			if tc.wantPrompt {
				<-g.asked
				g.answer(t, ctap2.ErrDenied)
				if err := result(t, retry); !errors.Is(err, ctap2.ErrDenied) {
					t.Fatalf("retry = %v, want the new prompt's answer", err)
				}
				return
			}
			if err := result(t, retry); err != nil {
				t.Fatalf("retry = %v, want the reused approval", err)
			}
			// The approval is spent: a third identical request prompts.
			third := confirmAsync(context.Background(), d, tc.retry)
			<-g.asked
			g.answer(t, ctap2.ErrDenied)
			if err := result(t, third); !errors.Is(err, ctap2.ErrDenied) {
				t.Fatalf("third = %v, want a new prompt", err)
			}
		})
	}
}

func TestDedupeCancel(t *testing.T) {
	g := newGate()
	d := Dedupe(g, 0).(*dedupe)

	// The browser cancels its request while its retry waits on the same
	// prompt: the prompt stays up and answers the retry.
	ctxA, cancelA := context.WithCancel(context.Background())
	a := confirmAsync(ctxA, d, siteReq)
	<-g.asked
	b := confirmAsync(context.Background(), d, siteReq)
	waitFor(t, func() bool { return waiters(d, siteReq) == 2 })
	cancelA()
	if err := result(t, a); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	g.answer(t, nil)
	if err := result(t, b); err != nil {
		t.Fatalf("remaining caller got %v, want approval", err)
	}

	// When the last caller goes away the prompt is withdrawn.
	ctxC, cancelC := context.WithCancel(context.Background())
	other := ctap2.PresenceRequest{Op: "reset"}
	c := confirmAsync(ctxC, d, other)
	<-g.asked
	cancelC()
	if err := result(t, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller got %v, want context.Canceled", err)
	}
	select {
	case req := <-g.cancelled:
		if req != other {
			t.Errorf("cancelled prompt for %+v, want %+v", req, other)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the prompt was not cancelled after its last caller left")
	}
	// A cancelled caller does not open a prompt.
	if err := d.Confirm(ctxC, other); !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm with a cancelled context = %v", err)
	}
	if n := g.prompts(); n != 0 {
		t.Errorf("%d unexpected prompts", n)
	}
}

// TestDedupeTerminal checks the merge end to end: two identical requests put
// one question on the terminal, and one "y" answers both.
func TestDedupeTerminal(t *testing.T) {
	s := newTermSession(t, 10*time.Second)
	d := Dedupe(s.p, DefaultDedupeWindow)
	a := confirmAsync(context.Background(), d, siteReq)
	waitFor(t, func() bool { return s.out.prompts() == 1 })
	b := confirmAsync(context.Background(), d, siteReq)
	waitFor(t, func() bool { return waiters(d.(*dedupe), siteReq) == 2 })
	s.typeLine(t, "y\n")
	for _, done := range []<-chan error{a, b} {
		if err := result(t, done); err != nil {
			t.Fatalf("Confirm = %v, want approval", err)
		}
	}
	if n := s.out.prompts(); n != 1 {
		t.Errorf("%d prompts on the terminal, want 1:\n%s", n, s.out.String())
	}
	if strings.Count(s.out.String(), "vauth: allowed.") != 1 {
		t.Errorf("output %q", s.out.String())
	}
}

func errName(err error) string {
	if err == nil {
		return "approved"
	}
	return err.Error()
}
