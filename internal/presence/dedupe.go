package presence

import (
	"context"
	"sync"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// dedupe merges identical requests; see Dedupe.
type dedupe struct {
	inner  ctap2.Presence
	window time.Duration
	now    func() time.Time // the clock; tests replace it

	mu       sync.Mutex
	open     map[ctap2.PresenceRequest]*sharedPrompt
	approved map[ctap2.PresenceRequest]time.Time // approvals not yet reused
}

// sharedPrompt is one prompt on the inner Presence and the callers waiting
// for its answer.
type sharedPrompt struct {
	done    chan struct{} // closed once err is set
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Dedupe wraps p so that a browser retrying a request does not make the user
// answer twice. Two requests are identical when Op, RPID and User are all
// equal; any difference, such as another site or account, always prompts.
//
// The exact rule:
//   - While a prompt for a request is open, an identical Confirm joins it and
//     receives the same answer instead of opening a second prompt. The prompt
//     stays open while at least one caller waits; when the last one is
//     cancelled, the prompt is cancelled too.
//   - When the user approves a request, one further identical Confirm that
//     arrives within window of the approval is approved without a prompt;
//     the approval is then spent. Denials and timeouts are never reused.
//     A window of zero or less turns reuse off.
//
// Why this is safe: it only spares the person from repeating the answer they
// just gave to exactly the same question (same operation, same site, same
// account), a few seconds earlier; that is what a browser's retry after a
// cancel or a lost response asks. A page cannot use it to obtain presence for
// another site, another account or another operation, and it gains at most
// one extra use of an approval the person gave for that very request.
func Dedupe(p ctap2.Presence, window time.Duration) ctap2.Presence {
	return &dedupe{
		inner:    p,
		window:   window,
		now:      time.Now,
		open:     make(map[ctap2.PresenceRequest]*sharedPrompt),
		approved: make(map[ctap2.PresenceRequest]time.Time),
	}
}

// Confirm answers from a recent approval, joins an open identical prompt, or
// opens a new one.
func (d *dedupe) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	now := d.now()
	for r, at := range d.approved {
		if now.Sub(at) > d.window {
			delete(d.approved, r)
		}
	}
	if _, ok := d.approved[req]; ok {
		delete(d.approved, req)
		d.mu.Unlock()
		return nil
	}
	sp := d.open[req]
	if sp == nil {
		// The prompt outlives the caller that opened it when others joined,
		// so it gets its own cancellation (keeping the context's values).
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		sp = &sharedPrompt{done: make(chan struct{}), cancel: cancel}
		d.open[req] = sp
		go d.run(pctx, sp, req)
	}
	sp.waiters++
	d.mu.Unlock()

	select {
	case <-sp.done:
		return sp.err
	case <-ctx.Done():
		d.mu.Lock()
		sp.waiters--
		if sp.waiters == 0 && d.open[req] == sp {
			delete(d.open, req)
			sp.cancel()
		}
		d.mu.Unlock()
		return ctx.Err()
	}
}

// run asks the inner Presence once and hands the answer to every waiter.
func (d *dedupe) run(ctx context.Context, sp *sharedPrompt, req ctap2.PresenceRequest) {
	err := d.inner.Confirm(ctx, req)
	sp.cancel()
	d.mu.Lock()
	if d.open[req] == sp {
		delete(d.open, req)
	}
	if err == nil && d.window > 0 {
		d.approved[req] = d.now()
	}
	sp.err = err
	d.mu.Unlock()
	close(sp.done)
}
