package control

import (
	"context"
	"sync"

	"github.com/vauth/vauth/ctap2"
)

// eventBacklog is how many past events the hub keeps for watchers that
// ask for what they missed; older ones are dropped.
const eventBacklog = 4096

// hub keeps the recent credential events and wakes those who wait for new
// ones. Publishing never blocks, so the authenticator can report events
// while it holds its lock.
type hub struct {
	mu     sync.Mutex
	events []Event // the last eventBacklog events, oldest first
	seq    uint64  // the last sequence number given
	wake   chan struct{}
}

func newHub() *hub { return &hub{wake: make(chan struct{})} }

// observe is the ctap2.Observer of the authenticator.
func (h *hub) observe(e ctap2.Event) {
	h.publish(Event{
		Type:                 string(e.Type),
		Time:                 e.Time,
		RPID:                 e.RPID,
		CredentialID:         e.CredentialID,
		IsResidentCredential: e.Discoverable,
		UserHandle:           e.User.ID,
		UserName:             e.User.Name,
		SignCount:            e.SignCount,
		UP:                   e.UP,
		UV:                   e.UV,
	})
}

// publish numbers e and adds it.
func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if len(h.events) == eventBacklog {
		h.events = append(h.events[:0], h.events[1:]...)
	}
	h.events = append(h.events, e)
	close(h.wake)
	h.wake = make(chan struct{})
}

// since returns the kept events after seq (at most limit when limit > 0),
// the sequence number to ask after next, and a channel closed at the next
// publish.
func (h *hub) since(seq uint64, limit int) ([]Event, uint64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq > h.seq {
		seq = 0 // a watcher of an earlier run of the daemon starts over
	}
	var out []Event
	for _, e := range h.events {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	next := seq
	if len(out) > 0 {
		next = out[len(out)-1].Seq
	}
	return out, next, h.wake
}

// wait returns the events after seq, waiting until there is one or ctx
// ends; then it returns none.
func (h *hub) wait(ctx context.Context, seq uint64, limit int) ([]Event, uint64) {
	for {
		out, next, wake := h.since(seq, limit)
		if len(out) > 0 {
			return out, next
		}
		seq = next
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, next
		}
	}
}
