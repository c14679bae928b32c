package control

import (
	"context"
	"testing"
)

// The hub keeps the last eventBacklog events; a watcher that asks for more
// than it has seen (from a daemon run before) starts over.
func TestHubBacklog(t *testing.T) {
	h := newHub()
	for range eventBacklog + 10 {
		h.publish(Event{Type: "asserted"})
	}
	all, next, _ := h.since(0, 0)
	if len(all) != eventBacklog || all[0].Seq != 11 || next != eventBacklog+10 {
		t.Fatalf("kept %d events from %d, next %d", len(all), all[0].Seq, next)
	}
	some, next, _ := h.since(20, 5)
	if len(some) != 5 || some[0].Seq != 21 || next != 25 {
		t.Fatalf("since(20, 5) = %d events from %d, next %d", len(some), some[0].Seq, next)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ev, next := h.wait(ctx, 1<<40, 1); len(ev) != 1 || ev[0].Seq != 11 || next != 11 {
		t.Fatalf("a watcher from an earlier run got %+v, next %d; want to start over", ev, next)
	}
}
