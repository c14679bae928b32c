package ctap1

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// errRefused is the user's refusal.
var errRefused = errors.New("refused")

// poll repeats apdu as a U2F host does, every 10 ms while the answer is
// SW_CONDITIONS_NOT_SATISFIED, and returns the first other answer.
func (d *testU2F) poll(apdu []byte, timeout time.Duration) ([]byte, StatusWord) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, sw := d.send(apdu)
		if sw != SWConditionsNotSatisfied || time.Now().After(deadline) {
			return data, sw
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gate is a user who answers when told to.
type gate struct {
	answer chan error
	asked  chan struct{} // receives a value each time the user is asked
}

func newGate(d *testU2F) *gate {
	g := &gate{answer: make(chan error), asked: make(chan struct{}, 16)}
	d.presence.setAnswer(func(ctx context.Context) error {
		g.asked <- struct{}{}
		select {
		case err := <-g.answer:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return g
}

// TestPresencePolling: a registration that waits for a person answers
// SW_CONDITIONS_NOT_SATISFIED while the host polls, asks only once, and
// succeeds on the poll after the approval, which is then spent.
func TestPresencePolling(t *testing.T) {
	d := newTestU2F(t)
	d.a.presenceWait = 20 * time.Millisecond
	g := newGate(d)
	app := appParam("https://example.com")
	register := extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:]))

	for range 3 {
		if _, sw := d.send(register); sw != SWConditionsNotSatisfied {
			t.Fatalf("%v while the user has not answered, want SW_CONDITIONS_NOT_SATISFIED", sw)
		}
	}
	if n := d.presence.count(); n != 1 {
		t.Fatalf("asked %d times while polling, want once", n)
	}
	g.answer <- nil
	data, sw := d.poll(register, 5*time.Second)
	if sw != SWNoError {
		t.Fatalf("after the approval: %v", sw)
	}
	parseRegistration(t, d.ca, data, app, testChallenge)
	if n := d.presence.count(); n != 1 {
		t.Fatalf("asked %d times, want once", n)
	}
	// The approval is spent: the next registration asks again.
	if _, sw := d.send(register); sw != SWConditionsNotSatisfied {
		t.Fatalf("second registration: %v, want SW_CONDITIONS_NOT_SATISFIED", sw)
	}
	<-g.asked
	<-g.asked
	if n := d.presence.count(); n != 2 {
		t.Fatalf("asked %d times, want twice", n)
	}
}

// TestPresenceRefused: a refusal answers SW_CONDITIONS_NOT_SATISFIED for as
// long as the host polls, without asking again; once the host has stopped
// for abandonAfter, a new request asks again.
func TestPresenceRefused(t *testing.T) {
	d := newTestU2F(t)
	d.a.presenceWait = 20 * time.Millisecond
	d.a.abandonAfter = 500 * time.Millisecond
	d.presence.setAnswer(func(context.Context) error { return errRefused })
	app := appParam("https://example.com")
	register := extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:]))

	for range 5 {
		if _, sw := d.send(register); sw != SWConditionsNotSatisfied {
			t.Fatalf("%v after a refusal, want SW_CONDITIONS_NOT_SATISFIED", sw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := d.presence.count(); n != 1 {
		t.Fatalf("asked %d times while the host polls after a refusal, want once", n)
	}
	time.Sleep(2 * d.a.abandonAfter)
	d.presence.setAnswer(nil)
	if _, sw := d.send(register); sw != SWNoError {
		t.Fatalf("after the host stopped polling and came back: %v", sw)
	}
	if n := d.presence.count(); n != 2 {
		t.Fatalf("asked %d times, want twice", n)
	}
}

// TestPresenceWithdrawn: a question is withdrawn (its context cancelled)
// when the host asks for something else, or stops asking.
func TestPresenceWithdrawn(t *testing.T) {
	d := newTestU2F(t)
	d.a.presenceWait = 10 * time.Millisecond
	d.a.abandonAfter = 300 * time.Millisecond
	reg := d.register("https://example.com")
	app := appParam("https://example.com")
	g := newGate(d)
	register := extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:]))
	authenticate := extended(InsAuthenticate, AuthEnforceUserPresence, authenticateData(testChallenge, app, reg.keyHandle))

	// Another request replaces the open question.
	if _, sw := d.send(register); sw != SWConditionsNotSatisfied {
		t.Fatalf("register: %v", sw)
	}
	<-g.asked
	d.a.mu.Lock()
	first := d.a.prompt
	d.a.mu.Unlock()
	if _, sw := d.send(authenticate); sw != SWConditionsNotSatisfied {
		t.Fatalf("authenticate: %v", sw)
	}
	<-g.asked
	d.a.mu.Lock()
	second := d.a.prompt
	d.a.mu.Unlock()
	if first == nil || second == nil || first == second {
		t.Fatal("the registration and the authentication did not each open a question")
	}
	for _, p := range []struct {
		what string
		p    *prompt
	}{
		{"the registration's question, replaced by an authentication", first},
		{"the authentication's question, abandoned by the host", second},
	} {
		select {
		case <-p.p.done:
			if p.p.err == nil {
				t.Fatalf("%s: approved", p.what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still open", p.what)
		}
	}
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	if d.a.prompt != nil {
		t.Error("an abandoned question stays current")
	}
}
