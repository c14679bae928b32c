package hybrid

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"time"
)

// Advertiser broadcasts BLE service data for ServiceUUID until stop is
// called: the authenticator's proof of proximity. BlueZ implements it on
// Linux; LocalRadio in-process; FileRadio between processes.
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

// FileRadio carries the advert through a file, as hex: the seam between
// processes on one machine where there is no Bluetooth (CI, containers).
// Advertise writes the file and stop removes it; Scan polls it.
type FileRadio struct {
	Path string
	// Poll is how often Scan reads the file; 0: every 50ms.
	Poll time.Duration
}

// Advertise implements Advertiser.
func (f FileRadio) Advertise(_ context.Context, serviceData []byte) (func(), error) {
	tmp := f.Path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(serviceData)+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, f.Path); err != nil {
		return nil, err
	}
	return func() { os.Remove(f.Path) }, nil
}

// Scan implements Scanner.
func (f FileRadio) Scan(ctx context.Context, found func([]byte) bool) error {
	poll := f.Poll
	if poll == 0 {
		poll = 50 * time.Millisecond
	}
	var last string
	for {
		if b, err := os.ReadFile(f.Path); err == nil && string(b) != last {
			last = string(b)
			if data, err := hex.DecodeString(strings.TrimSpace(last)); err == nil && found(data) {
				return nil
			}
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
