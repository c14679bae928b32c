package control

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// errNoPending: nothing waits for an answer.
var errNoPending = errors.New("no request waits for an answer")

// prompter is a ctap2.Presence that the control API steers: it wraps the
// configured prompt (--presence or --uv), follows a Policy, and keeps
// every request it is asked visible and answerable until it is answered.
type prompter struct {
	kind  string         // KindPresence or KindUV
	inner ctap2.Presence // the configured prompt; nil: none
	board *board
	now   func() time.Time

	mu     sync.Mutex
	policy Policy
}

// board holds the pending requests of both prompters, so that one list
// shows them and one sequence numbers them.
type board struct {
	mu      sync.Mutex
	nextID  uint64
	pending []*pending
	wake    chan struct{} // closed when a request arrives
}

type pending struct {
	PendingRequest
	answer chan error // buffered: the first answer wins
}

func newBoard() *board { return &board{wake: make(chan struct{})} }

// Policy returns the current policy.
func (p *prompter) Policy() Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policy
}

// SetPolicy sets the policy of the requests to come; pending ones keep
// waiting for an answer.
func (p *prompter) SetPolicy(policy Policy) {
	p.mu.Lock()
	p.policy = policy
	p.mu.Unlock()
}

// Confirm implements ctap2.Presence.
func (p *prompter) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	policy := p.Policy()
	switch policy {
	case PolicyApprove:
		return nil
	case PolicyDeny:
		return ctap2.ErrDenied
	}
	pr := p.board.add(PendingRequest{Kind: p.kind, Op: req.Op, RPID: req.RPID, User: req.User, Since: p.now()})
	defer p.board.remove(pr)
	if policy == PolicyWait || p.inner == nil {
		select {
		case err := <-pr.answer:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// PolicyPrompt: the configured prompt and the control API race; the
	// loser's prompt is cancelled and waited for, so prompts never overlap.
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.inner.Confirm(ictx, req) }()
	select {
	case err := <-done:
		cancel()
		return err
	case err := <-pr.answer:
		cancel()
		<-done
		return err
	}
}

func (b *board) add(r PendingRequest) *pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	r.ID = b.nextID
	pr := &pending{PendingRequest: r, answer: make(chan error, 1)}
	b.pending = append(b.pending, pr)
	close(b.wake)
	b.wake = make(chan struct{})
	return pr
}

func (b *board) remove(pr *pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = slices.DeleteFunc(b.pending, func(x *pending) bool { return x == pr })
}

// list returns the pending requests, oldest first.
func (b *board) list() []PendingRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]PendingRequest, len(b.pending))
	for i, pr := range b.pending {
		out[i] = pr.PendingRequest
	}
	return out
}

// answer answers request id (0: the oldest) with err, waiting until ctx
// ends for one to be pending; it returns the request it answered.
func (b *board) answer(ctx context.Context, id uint64, err error) (PendingRequest, error) {
	for {
		b.mu.Lock()
		for _, pr := range b.pending {
			if id != 0 && pr.ID != id {
				continue
			}
			select {
			case pr.answer <- err:
				b.pending = slices.DeleteFunc(b.pending, func(x *pending) bool { return x == pr })
				b.mu.Unlock()
				return pr.PendingRequest, nil
			default: // answered already, by a racing caller
			}
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return PendingRequest{}, errNoPending
		}
	}
}
