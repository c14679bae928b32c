package ctap1

import (
	"context"
	"errors"
	"time"
)

// errNoPresence is the answer when no Presence is configured.
var errNoPresence = errors.New("no Presence is configured to ask the user")

// presenceKey identifies a request that needs the user: the instruction,
// the application and, for U2F_AUTHENTICATE, the key handle. A host that
// polls by repeating its request finds the question it started.
type presenceKey struct {
	ins         byte
	application [32]byte
	keyHandle   string
}

// prompt is one question to the user, asked in the background while the
// host polls.
type prompt struct {
	key      presenceKey
	cancel   context.CancelFunc // withdraws the question
	done     chan struct{}      // closed once err is set
	err      error              // the answer: nil when the user approved
	lastPoll time.Time          // the last request that asked for it
	watchdog *time.Timer        // drops the prompt once the host stops asking
}

// userPresence reports whether the user approved the request key.
//
// U2F has no keepalive for "waiting for the user" and no status for a
// refusal: a token answers SW_CONDITIONS_NOT_SATISFIED until the user
// touches it, and hosts (browsers, libfido2, python-fido2) repeat the
// request every 100 to 300 ms until it succeeds (FIDO U2F Raw Message
// Formats §4.3, §5.1). So the first request asks the Presence in the
// background and waits only presenceWait for the answer; the repeated
// requests join the same question and wait likewise. A Presence that
// answers at once (CI) therefore succeeds on the first request, and a person
// has as long as the host keeps asking. The request that receives an
// approval spends it. A refusal keeps answering SW_CONDITIONS_NOT_SATISFIED
// (there is nothing else to answer) until the host stops asking; a request
// for something else, or a cancelled request, withdraws the question; and a
// question the host has not asked about for abandonAfter is withdrawn, and
// its answer forgotten.
func (a *Authenticator) userPresence(ctx context.Context, key presenceKey) bool {
	a.mu.Lock()
	p := a.prompt
	if p != nil && p.key != key {
		a.dropLocked(p)
		p = nil
	}
	if p == nil {
		p = a.ask(key)
	}
	p.lastPoll = time.Now()
	a.mu.Unlock()

	wait := time.NewTimer(a.presenceWait)
	defer wait.Stop()
	select {
	case <-p.done:
	case <-wait.C:
		return false
	case <-ctx.Done():
		a.mu.Lock()
		if a.prompt == p {
			a.dropLocked(p)
		}
		a.mu.Unlock()
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.err != nil || a.prompt != p { // refused, or spent by a concurrent request
		return false
	}
	a.dropLocked(p)
	return true
}

// ask starts asking the user about key and makes it the current prompt;
// a.mu is held.
func (a *Authenticator) ask(key presenceKey) *prompt {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prompt{key: key, cancel: cancel, done: make(chan struct{})}
	go func() {
		err := errNoPresence
		if a.presence != nil {
			err = a.presence(ctx, key.ins, key.application)
		}
		p.err = err
		close(p.done)
		if err != nil && ctx.Err() == nil {
			a.log.Debug("U2F user presence refused", "err", err)
		}
	}()
	p.watchdog = time.AfterFunc(a.abandonAfter, func() { a.dropIfAbandoned(p) })
	a.prompt = p
	return p
}

// dropIfAbandoned drops p once the host has not asked about it for
// abandonAfter.
func (a *Authenticator) dropIfAbandoned(p *prompt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prompt != p {
		return
	}
	if idle := time.Since(p.lastPoll); idle < a.abandonAfter {
		p.watchdog.Reset(a.abandonAfter - idle)
		return
	}
	a.log.Debug("U2F host stopped polling: user presence question withdrawn")
	a.dropLocked(p)
}

// dropLocked withdraws p, answered or not; a.mu is held.
func (a *Authenticator) dropLocked(p *prompt) {
	p.cancel()
	p.watchdog.Stop()
	a.prompt = nil
}
