package soft

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// errCounterExhausted: a counter reached 2^32-1 and cannot increase.
var errCounterExhausted = errors.New("soft: signature counter exhausted")

// counter is the in-memory state of one credential's signature counter.
// Every value handed out is at most mark, and mark is on disk before any
// value above the previous mark is handed out; so after a restart, counting
// from the stored mark keeps the counter strictly increasing. A new mark is
// never more than a block above a value handed out, so a restart skips at
// most one block.
//
// Once half a block is used, the next mark is written in the background
// (reserveAhead), so that an assertion waits for the disk only when that
// write is late: a flush can take milliseconds. A reservation also writes
// down the use that made it; one is made too when the last use on disk is
// usageLag older than the current one, so that a crash loses at most that
// much of a credential's last use.
type counter struct {
	mu     sync.Mutex
	loaded bool
	gone   bool // the credential was deleted (or never existed)
	value  uint32
	mark   uint32
	used   time.Time // when value was handed out; zero before the first use here
	// written is when the last use written down happened (or the
	// credential was created here).
	written time.Time
	// reserving is closed when the background reservation in flight ends;
	// nil when there is none.
	reserving chan struct{}
}

// NextCounter implements keystore.Keystore. It touches the disk only to load
// a counter and, when the background reservation is late, as the value
// passes the reserved mark.
func (s *Store) NextCounter(c *keystore.Credential) (uint32, error) {
	if c == nil || len(c.ID) == 0 || len(c.ID) > s.readIDLen {
		return 0, keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	s.cmu.Lock()
	e := s.counters[string(c.ID)]
	if e == nil {
		e = &counter{}
		s.counters[string(c.ID)] = e
	}
	s.cmu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return 0, keystore.ErrNotFound
	}
	if !e.loaded {
		mark, err := s.loadCounter(c)
		if err != nil {
			if errors.Is(err, keystore.ErrNotFound) {
				e.gone = true
				s.dropCounter(c.ID, e)
			}
			return 0, err
		}
		// The first value passes the mark, which writes the use down.
		e.value, e.mark, e.loaded = mark, mark, true
	}
	// With no room left, wait for a reservation in flight rather than
	// write a mark beside it.
	for e.value >= e.mark && e.reserving != nil {
		done := e.reserving
		e.mu.Unlock()
		<-done
		e.mu.Lock()
	}
	if e.gone {
		return 0, keystore.ErrNotFound
	}
	if e.value == math.MaxUint32 {
		return 0, errCounterExhausted
	}
	next, now := e.value+1, s.now()
	if next > e.mark {
		mark := uint32(min(uint64(next)+uint64(s.block), math.MaxUint32))
		if err := s.storeCounter(c.ID, mark, usage{counter: next, lastUsed: now}); err != nil {
			if errors.Is(err, keystore.ErrNotFound) {
				e.gone = true
				s.dropCounter(c.ID, e)
			}
			return 0, err
		}
		e.mark, e.written = mark, now
	}
	e.value, e.used = next, now
	due := e.mark-next < s.block/2 || now.Sub(e.written) >= usageLag
	if e.reserving == nil && e.mark < math.MaxUint32 && due {
		mark := uint32(min(uint64(next)+uint64(s.block), math.MaxUint32))
		e.reserving = make(chan struct{})
		s.reservations.Add(1)
		go s.reserveAhead(slices.Clone(c.ID), e, mark, usage{counter: next, lastUsed: now})
	}
	return next, nil
}

// reserveAhead writes a counter's next mark, and the use that reserved it,
// in the background. NextCounter started it holding s.mu for reading, so
// Reset and Close, which take s.mu, wait for s.reservations before they
// touch the database.
func (s *Store) reserveAhead(id []byte, e *counter, mark uint32, u usage) {
	defer s.reservations.Done()
	err := s.storeCounter(id, mark, u)
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.reserving)
	e.reserving = nil
	switch {
	case err == nil:
		e.mark = max(e.mark, mark)
		if u.lastUsed.After(e.written) {
			e.written = u.lastUsed
		}
	case errors.Is(err, keystore.ErrNotFound):
		e.gone = true
		s.dropCounter(id, e)
	default:
		// The next assertion that needs the mark writes it in line.
		s.log.Warn("could not reserve a counter block ahead", "err", err)
	}
}

// loadCounter returns the stored high-water mark of a credential's counter:
// 0 for a non-discoverable credential never counted, ErrNotFound for a
// credential that does not exist.
func (s *Store) loadCounter(c *keystore.Credential) (uint32, error) {
	switch c.ID[0] {
	case idNonDiscoverableV1, idNonDiscoverableV2, idNonDiscoverableV3:
		// Only real credential IDs get counter records.
		if _, ok := s.keys.openND(c.ID, c.RPIDHash); !ok {
			return 0, keystore.ErrNotFound
		}
	case idDiscoverableV1, idNonDiscoverableStoredV1:
	default:
		return 0, keystore.ErrNotFound
	}
	var mark uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		if missing(tx, c.ID) {
			return keystore.ErrNotFound
		}
		val := tx.Bucket(bucketCounters).Get(c.ID)
		if val == nil {
			return nil
		}
		var err error
		mark, err = parseCounter(val)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("soft: load counter: %w", err)
	}
	return mark, nil
}

// storeCounter persists a new high-water mark and the use that reserved it,
// in the same transaction checking that a credential with a record still
// exists.
func (s *Store) storeCounter(id []byte, mark uint32, u usage) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if missing(tx, id) {
			return keystore.ErrNotFound
		}
		if err := tx.Bucket(bucketUsage).Put(id, u.marshal()); err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).Put(id, marshalCounter(mark))
	})
	if err != nil {
		return fmt.Errorf("soft: store counter: %w", err)
	}
	s.log.Debug("reserved counter block", "mark", mark)
	return nil
}

// startCounter records the in-memory state of a new credential's counter,
// whose first block Create reserved.
func (s *Store) startCounter(id []byte, mark uint32) {
	s.cmu.Lock()
	s.counters[string(id)] = &counter{loaded: true, mark: mark, written: s.now()}
	s.cmu.Unlock()
}

// forgetCounters drops the counters of deleted credentials. A NextCounter
// already holding one finds it gone.
func (s *Store) forgetCounters(ids [][]byte) {
	for _, id := range ids {
		s.cmu.Lock()
		e := s.counters[string(id)]
		delete(s.counters, string(id))
		s.cmu.Unlock()
		if e != nil {
			e.mu.Lock()
			e.gone = true
			e.mu.Unlock()
		}
	}
}

// dropCounter removes e from the map if it is still there, so that a
// counter that was not found does not stay in memory.
func (s *Store) dropCounter(id []byte, e *counter) {
	s.cmu.Lock()
	if s.counters[string(id)] == e {
		delete(s.counters, string(id))
	}
	s.cmu.Unlock()
}
