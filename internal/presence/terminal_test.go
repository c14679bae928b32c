package presence

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// transcript is a prompt's output that tests can wait on.
type transcript struct {
	mu   sync.Mutex
	text strings.Builder
}

func (tr *transcript) Write(p []byte) (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.text.Write(p)
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.text.String()
}

// prompts counts the questions asked so far.
func (tr *transcript) prompts() int { return strings.Count(tr.String(), "Allow? [y/N]") }

// termSession is a Terminal on pipes: tests type into in and read out.
type termSession struct {
	p   ctap2.Presence
	in  *io.PipeWriter
	out *transcript
}

func newTermSession(t *testing.T, timeout time.Duration) *termSession {
	t.Helper()
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	out := &transcript{}
	return &termSession{p: Terminal(r, out, timeout), in: w, out: out}
}

// ask starts a Confirm and returns its result channel once the n-th prompt
// has been printed.
func (s *termSession) ask(t *testing.T, ctx context.Context, req ctap2.PresenceRequest, n int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.p.Confirm(ctx, req) }()
	waitFor(t, func() bool { return s.out.prompts() >= n })
	return done
}

func (s *termSession) typeLine(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(s.in, text); err != nil {
		t.Fatal(err)
	}
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Confirm did not return")
		return nil
	}
}

var siteReq = ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com", User: "alice"}

func TestTerminalAnswers(t *testing.T) {
	tests := []struct {
		name    string
		typed   string // "" types nothing
		closeIn bool   // end of input instead of typing
		timeout time.Duration
		want    error
		wantOut string
	}{
		{name: "y", typed: "y\n", want: nil, wantOut: "vauth: allowed."},
		{name: "yes", typed: "yes\n", want: nil},
		{name: "YES with CRLF and spaces", typed: "  YES \r\n", want: nil},
		{name: "n", typed: "n\n", want: ctap2.ErrDenied, wantOut: "vauth: denied."},
		{name: "empty line is the default no", typed: "\n", want: ctap2.ErrDenied},
		{name: "garbage", typed: "sure, why not\n", want: ctap2.ErrDenied},
		{name: "yes as part of a word", typed: "yesterday\n", want: ctap2.ErrDenied},
		{name: "overlong line of y", typed: strings.Repeat("y", 3*maxAnswerBytes) + "\n", want: ctap2.ErrDenied},
		{name: "timeout", timeout: 50 * time.Millisecond, want: ctap2.ErrTimeout, wantOut: "no answer in time"},
		{name: "end of input", closeIn: true, want: ctap2.ErrDenied, wantOut: "no more input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			s := newTermSession(t, timeout)
			done := s.ask(t, context.Background(), siteReq, 1)
			switch {
			case tc.closeIn:
				s.in.Close()
			case tc.typed != "":
				s.typeLine(t, tc.typed)
			}
			if err := result(t, done); !errors.Is(err, tc.want) {
				t.Fatalf("Confirm = %v, want %v", err, tc.want)
			}
			out := s.out.String()
			if !strings.HasPrefix(out, "vauth: register a new credential — site example.com, account alice. Allow? [y/N] ") {
				t.Errorf("prompt = %q", out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output %q lacks %q", out, tc.wantOut)
			}
		})
	}
}

func TestTerminalCancel(t *testing.T) {
	s := newTermSession(t, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := s.ask(t, ctx, siteReq, 1)
	cancel()
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Confirm = %v, want context.Canceled", err)
	}
	if out := s.out.String(); !strings.Contains(out, "the request was cancelled") {
		t.Errorf("output %q does not say the request was cancelled", out)
	}
	// The next prompt still gets its own answer.
	done = s.ask(t, context.Background(), siteReq, 2)
	s.typeLine(t, "y\n")
	if err := result(t, done); err != nil {
		t.Fatalf("prompt after a cancel = %v, want approval", err)
	}
}

func TestTerminalTwoPromptsInARow(t *testing.T) {
	s := newTermSession(t, 10*time.Second)
	first := ctap2.PresenceRequest{Op: "getAssertion", RPID: "one.example", User: "alice"}
	second := ctap2.PresenceRequest{Op: "getAssertion", RPID: "two.example", User: "bob"}

	done := s.ask(t, context.Background(), first, 1)
	s.typeLine(t, "y\n")
	if err := result(t, done); err != nil {
		t.Fatalf("first prompt = %v, want approval", err)
	}
	done = s.ask(t, context.Background(), second, 2)
	s.typeLine(t, "n\n")
	if err := result(t, done); !errors.Is(err, ctap2.ErrDenied) {
		t.Fatalf("second prompt = %v, want ErrDenied", err)
	}
	out := s.out.String()
	i, j := strings.Index(out, "site one.example, account alice"), strings.Index(out, "site two.example, account bob")
	if i < 0 || j < i {
		t.Errorf("output %q does not show both prompts in order", out)
	}
}

// TestTerminalLateAnswer checks that an answer typed after a prompt timed out
// is not taken as the answer to the next prompt.
func TestTerminalLateAnswer(t *testing.T) {
	s := newTermSession(t, 50*time.Millisecond)
	if err := result(t, s.ask(t, context.Background(), siteReq, 1)); !errors.Is(err, ctap2.ErrTimeout) {
		t.Fatalf("first prompt = %v, want ErrTimeout", err)
	}
	s.typeLine(t, "y\n")              // too late for the first prompt
	time.Sleep(20 * time.Millisecond) // let the reader take it in before the next prompt
	done := s.ask(t, context.Background(), ctap2.PresenceRequest{Op: "reset"}, 2)
	if err := result(t, done); !errors.Is(err, ctap2.ErrTimeout) {
		t.Fatalf("second prompt = %v, want ErrTimeout (the late y must not answer it)", err)
	}
}

// TestTerminalConcurrent checks that prompts queue up: two callers never see
// their questions interleaved, and each answer goes to the prompt on screen.
func TestTerminalConcurrent(t *testing.T) {
	s := newTermSession(t, 10*time.Second)
	a := s.ask(t, context.Background(), ctap2.PresenceRequest{Op: "getAssertion", RPID: "a.example"}, 1)
	b := make(chan error, 1)
	go func() {
		b <- s.p.Confirm(context.Background(), ctap2.PresenceRequest{Op: "getAssertion", RPID: "b.example"})
	}()
	time.Sleep(20 * time.Millisecond) // b is waiting for its turn
	if n := s.out.prompts(); n != 1 {
		t.Fatalf("%d prompts on screen while the first is unanswered, want 1", n)
	}
	s.typeLine(t, "y\n")
	if err := result(t, a); err != nil {
		t.Fatalf("first = %v, want approval", err)
	}
	waitFor(t, func() bool { return s.out.prompts() == 2 })
	if !strings.Contains(s.out.String(), "site b.example. Allow?") {
		t.Fatalf("second prompt not shown: %q", s.out.String())
	}
	s.typeLine(t, "n\n")
	if err := result(t, b); !errors.Is(err, ctap2.ErrDenied) {
		t.Fatalf("second = %v, want ErrDenied", err)
	}
}
