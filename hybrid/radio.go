package hybrid

import (
	"context"
	"sync"
)

// Advertiser broadcasts BLE service data for ServiceUUID until stop is
// called: the authenticator's proof of proximity. BlueZ implements it on
// Linux (NewBlueZAdvertiser); LocalRadio in-process.
type Advertiser interface {
	Advertise(ctx context.Context, serviceData []byte) (stop func(), err error)
}

// Scanner reports BLE service data for ServiceUUID seen nearby: found is
// called for each until it returns true or ctx ends.
type Scanner interface {
	Scan(ctx context.Context, found func(serviceData []byte) bool) error
}

// LocalRadio is an in-process radio: what is advertised on it is what its
// scanners see. It lets both halves of a ceremony run in one process (or
// test) without Bluetooth; everything above the radio is the real thing.
type LocalRadio struct {
	mu      sync.Mutex
	adverts map[int][]byte
	next    int
	changed chan struct{} // closed and replaced on every change
}

func (r *LocalRadio) init() {
	if r.changed == nil {
		r.changed = make(chan struct{})
		r.adverts = map[int][]byte{}
	}
}

func (r *LocalRadio) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Advertise implements Advertiser.
func (r *LocalRadio) Advertise(_ context.Context, serviceData []byte) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	id := r.next
	r.next++
	r.adverts[id] = append([]byte(nil), serviceData...)
	r.notify()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.adverts, id)
		r.notify()
	}, nil
}

// Scan implements Scanner: it reports every advert on the air now and
// each new one.
func (r *LocalRadio) Scan(ctx context.Context, found func([]byte) bool) error {
	seen := map[int]bool{}
	for {
		r.mu.Lock()
		r.init()
		var fresh [][]byte
		for id, d := range r.adverts {
			if !seen[id] {
				seen[id] = true
				fresh = append(fresh, d)
			}
		}
		changed := r.changed
		r.mu.Unlock()
		for _, d := range fresh {
			if found(d) {
				return nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
