package soft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// usageV1 is the format of a usage record: 0x01 || signature counter u32 ||
// last use, Unix nanoseconds i64 (0: never, as for an imported credential).
const (
	usageV1     = 0x01
	usageRecLen = 1 + 4 + 8
)

// usage is what the usage bucket records about a credential's use: the
// counter it last handed out and when.
type usage struct {
	counter  uint32
	lastUsed time.Time
}

func (u usage) marshal() []byte {
	var nanos int64
	if !u.lastUsed.IsZero() {
		nanos = u.lastUsed.UnixNano()
	}
	b := binary.BigEndian.AppendUint32([]byte{usageV1}, u.counter)
	return binary.BigEndian.AppendUint64(b, uint64(nanos))
}

func parseUsage(val []byte) (usage, error) {
	if len(val) != usageRecLen || val[0] != usageV1 {
		return usage{}, errors.New("soft: malformed usage record")
	}
	u := usage{counter: binary.BigEndian.Uint32(val[1:])}
	if nanos := int64(binary.BigEndian.Uint64(val[5:])); nanos != 0 {
		u.lastUsed = time.Unix(0, nanos)
	}
	return u, nil
}

// Usage implements keystore.UsageReader. The store learns of a use at every
// NextCounter but writes it down only with each counter block it reserves
// (at least one an hour for a credential in use), so that assertions cost
// no fsync, and when it closes. So the answer is exact in the process that
// has the store open, and from the disk after a clean Close; after a crash
// it is as of the last reservation: a counter up to one block low and a
// last use up to usageLag early. A credential never used has counter 0 and
// the zero time.
func (s *Store) Usage(id []byte) (uint32, time.Time, error) {
	if len(id) == 0 || len(id) > s.readIDLen {
		return 0, time.Time{}, keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		return 0, time.Time{}, err
	}
	defer s.mu.RUnlock()

	s.cmu.Lock()
	e := s.counters[string(id)]
	s.cmu.Unlock()
	if e != nil {
		e.mu.Lock()
		u, known, gone := usage{counter: e.value, lastUsed: e.used}, !e.used.IsZero(), e.gone
		e.mu.Unlock()
		if gone {
			return 0, time.Time{}, keystore.ErrNotFound
		}
		if known {
			return u.counter, u.lastUsed, nil
		}
	}
	var u usage
	err := s.db.View(func(tx *bolt.Tx) error {
		if missing(tx, id) {
			return keystore.ErrNotFound
		}
		val := tx.Bucket(bucketUsage).Get(id)
		if val == nil {
			return nil
		}
		var err error
		u, err = parseUsage(val)
		return err
	})
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return 0, time.Time{}, err
		}
		return 0, time.Time{}, fmt.Errorf("soft: read usage: %w", err)
	}
	return u.counter, u.lastUsed, nil
}

// flushUsage writes down the uses since the last block reservation, as
// Close does; a credential deleted meanwhile is skipped.
func (s *Store) flushUsage() error {
	s.cmu.Lock()
	pending := map[string]usage{}
	for id, e := range s.counters {
		e.mu.Lock()
		if !e.gone && !e.used.IsZero() {
			pending[id] = usage{counter: e.value, lastUsed: e.used}
		}
		e.mu.Unlock()
	}
	s.cmu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
		for id, u := range pending {
			if missing(tx, []byte(id)) {
				continue
			}
			if err := b.Put([]byte(id), u.marshal()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("soft: write usage: %w", err)
	}
	return nil
}

var _ keystore.UsageReader = (*Store)(nil)
