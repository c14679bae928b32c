package soft

import (
	"cmp"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/vauth/vauth/keystore"
)

// DefaultCounterBlock is how far ahead of the current value a signature
// counter's high-water mark is reserved on disk. A reservation costs a
// database commit (two flushes, a few hundred microseconds of CPU), so a
// large block keeps it rare; a crash skips at most a block, and relying
// parties only ask that the counter increase.
const DefaultCounterBlock = 4096

// usageLag is how far the last use on disk may fall behind the last use
// before a reservation is made to write it down.
const usageLag = time.Hour

const masterKeyLen = 32

// HKDF-SHA256 info strings of the keys derived from the master key.
const (
	infoCredentialID = "vauth soft keystore v1: credential ID"
	infoKeyHandle    = "vauth soft keystore v1: key handle"
	infoBlob         = "vauth soft keystore v1: blob"
	infoKeyCheck     = "vauth soft keystore v1: key check"
	infoCredRandom   = "vauth soft keystore v1: CredRandom"
)

var errClosed = errors.New("soft: store is closed")

// Options configure Open. The zero value is a software store with a plain
// master-key file. Store.Close leaves a given Engine and Sealer open: whoever
// made them closes them.
type Options struct {
	// Engine makes and uses credential keys; nil means NewEngineRSA(RSABits).
	Engine KeyEngine
	// RSABits is the size of the RSA keys (RS256, PS256) of the default
	// engine: DefaultRSABits (0 means this) or RSABits3072. It is ignored
	// when Engine is set.
	RSABits int
	// Sealer protects the master key that master.key holds; nil means the
	// default: the key as it is, or wrapped with argon2id when Passphrase is
	// set.
	Sealer Sealer
	// Passphrase wraps the master key of the default Sealer (it is ignored
	// when Sealer is set). A store made with one must be opened with it
	// (ErrWrongPassphrase otherwise).
	Passphrase []byte
	// CounterBlock is how many signature counter values are reserved on disk
	// at a time, and so the most a counter can jump after a crash; 0 means
	// DefaultCounterBlock.
	CounterBlock uint32
	// Now stamps credential creation times; nil means time.Now.
	Now func() time.Time
	// Rand supplies the master key, nonces and credential IDs; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives open, reset and recovery events; nil discards them.
	Logger *slog.Logger
}

// Store is a keystore.Keystore kept in a directory. Safe for concurrent use;
// one Store per directory at a time, across processes too.
type Store struct {
	dir      string
	engine   KeyEngine
	algs     []int
	sealer   Sealer
	block    uint32
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
	maxIDLen int
	// inlineBlobLen is the longest engine blob sealed into a
	// non-discoverable credential ID; a longer one is kept in bucketND.
	inlineBlobLen int
	// readIDLen bounds the IDs the store looks at: the sealed ID of the
	// engine's largest blob or of an RSA-3072 key, whichever is longer,
	// since vauth sealed RSA keys into IDs before bucketND, and a store may
	// have been opened with smaller RSA keys since.
	readIDLen int

	// mu is held for reading by every operation and for writing by Reset and
	// Close, which replace keys and end the store.
	mu     sync.RWMutex
	closed bool
	db     *bolt.DB
	lock   *os.File
	keys   sealKeys

	cmu      sync.Mutex
	counters map[string]*counter // by credential ID; see counter.go
	// reservations counts the counter reservations running in the
	// background (counter.go).
	reservations sync.WaitGroup

	// hmu guards hmacKey, an HMACEngine's key blob once read or made (see
	// cred_random.go); Reset drops it.
	hmu     sync.Mutex
	hmacKey []byte
}

// sealKeys are the AEADs under the keys derived from the master key.
type sealKeys struct {
	credentialID cipher.AEAD // seals non-discoverable credential IDs
	keyHandle    cipher.AEAD // seals discoverable credentials' key blobs
	blob         cipher.AEAD // seals device blobs
	credRandom   []byte      // the HMAC key of CredRandom, unless the engine keeps its own
	opened       *openCache  // what credentialID and keyHandle opened to
}

// Open opens the store in dir, creating it if needed, and holds it
// exclusively until Close: a second Open of the same directory, here or in
// another process, fails with an error wrapping keystore.ErrInUse.
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{
		dir:      dir,
		engine:   opts.Engine,
		sealer:   opts.Sealer,
		block:    opts.CounterBlock,
		now:      opts.Now,
		rand:     opts.Rand,
		log:      opts.Logger,
		counters: map[string]*counter{},
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.engine == nil {
		e, err := NewEngineRSA(cmp.Or(opts.RSABits, DefaultRSABits))
		if err != nil {
			return nil, err
		}
		s.engine = e
	}
	if s.sealer == nil {
		fsl := &fileSealer{rand: s.rand}
		if opts.Passphrase != nil {
			fsl.passphrase = append([]byte{}, opts.Passphrase...)
		}
		s.sealer = fsl
	}
	if s.block == 0 {
		s.block = DefaultCounterBlock
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.algs = s.engine.Algorithms()
	s.inlineBlobLen = s.engine.MaxBlobLen()
	if l, ok := s.engine.(InlineLimiter); ok {
		s.inlineBlobLen = min(s.inlineBlobLen, l.MaxInlineBlobLen())
	}
	s.maxIDLen = max(sealOverhead+ndPayloadMaxV3+s.inlineBlobLen, discoverableIDLen)
	s.readIDLen = sealOverhead + ndPayloadMaxV3 + max(s.engine.MaxBlobLen(), blobLen(keystore.RS256, RSABits3072))

	if err := prepareDir(dir, s.log); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.open(); err != nil {
		s.release()
		return nil, err
	}
	s.log.Info("keystore opened", "dir", dir, "backend", s.engine.Name())
	return s, nil
}

// open opens the database and the master key, once the lock is held.
func (s *Store) open() error {
	for _, name := range []string{dbFile, masterFile, masterNewFile} {
		if err := checkPrivate(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(s.dir, masterFile+tmpSuffix))
	os.Remove(filepath.Join(s.dir, masterNewFile+tmpSuffix))
	db, err := bolt.Open(filepath.Join(s.dir, dbFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("soft: open %s: %w", dbFile, err)
	}
	s.db = db
	if err := syncDir(s.dir); err != nil { // the database file may be new
		return fmt.Errorf("soft: %w", err)
	}
	check, err := s.initMeta()
	if err != nil {
		return err
	}
	master, err := s.loadMaster(check)
	if err != nil {
		return err
	}
	defer clear(master)
	return s.setMaster(master)
}

// initMeta checks the format version (upgrading an older store), creates
// the buckets of a new store, and returns the stored key check (nil in a
// store whose master key was never recorded).
func (s *Store) initMeta() ([]byte, error) {
	var (
		check        []byte
		upgradedFrom byte
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		v := meta.Get(keyVersion)
		switch {
		case v == nil:
		case len(v) != 1:
			return errors.New("soft: malformed format version in the store")
		case v[0] > formatVersion:
			return fmt.Errorf("soft: the store has format version %d, newer than this vauth reads (%d); use a newer vauth", v[0], formatVersion)
		}
		for _, name := range dataBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if v == nil || v[0] < formatVersion {
			if v != nil {
				// Version 1 kept no count of discoverable credentials.
				if v[0] < 2 {
					if err := recount(tx); err != nil {
						return err
					}
				}
				if err := upgradeRecords(tx); err != nil {
					return err
				}
				upgradedFrom = v[0]
			}
			if err := meta.Put(keyVersion, []byte{formatVersion}); err != nil {
				return err
			}
		}
		check = slices.Clone(meta.Get(keyKeyCheck))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("soft: %s: %w", dbFile, err)
	}
	if upgradedFrom != 0 {
		s.log.Info("upgraded the store's format", "dir", s.dir, "from", upgradedFrom, "to", formatVersion)
	}
	return check, nil
}

// loadMaster returns the master key: from master.key, or a new one for a new
// store. It completes a Reset that committed but did not get to rename
// master.key.new into place, and drops one that did not commit.
func (s *Store) loadMaster(check []byte) ([]byte, error) {
	if sealed, err := os.ReadFile(filepath.Join(s.dir, masterNewFile)); err == nil {
		key, err := s.unsealMaster(sealed)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, masterNewFile)
		}
		ok, err := matches(key, check)
		if err != nil {
			clear(key)
			return nil, err
		}
		if check != nil && ok {
			if err := os.Rename(filepath.Join(s.dir, masterNewFile), filepath.Join(s.dir, masterFile)); err != nil {
				clear(key)
				return nil, fmt.Errorf("soft: complete interrupted reset: %w", err)
			}
			if err := syncDir(s.dir); err != nil {
				clear(key)
				return nil, fmt.Errorf("soft: complete interrupted reset: %w", err)
			}
			s.log.Info("completed an interrupted reset", "dir", s.dir)
			return key, nil
		}
		clear(key)
		if err := os.Remove(filepath.Join(s.dir, masterNewFile)); err != nil {
			return nil, fmt.Errorf("soft: drop uncommitted reset: %w", err)
		}
		s.log.Info("dropped the master key of a reset that did not commit", "dir", s.dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("soft: %w", err)
	}

	sealed, err := os.ReadFile(filepath.Join(s.dir, masterFile))
	switch {
	case errors.Is(err, fs.ErrNotExist) && check != nil:
		return nil, fmt.Errorf("soft: %s is missing from %s; the store's secrets cannot be opened without it", masterFile, s.dir)
	case errors.Is(err, fs.ErrNotExist):
		key, err := s.newMaster(masterFile)
		if err != nil {
			return nil, err
		}
		if err := s.putKeyCheck(key); err != nil {
			clear(key)
			return nil, err
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("soft: %w", err)
	}
	key, err := s.unsealMaster(sealed)
	if err != nil {
		return nil, err
	}
	if check == nil {
		// The store was created but its key check never committed.
		err = s.putKeyCheck(key)
	} else if ok, merr := matches(key, check); merr != nil {
		err = merr
	} else if !ok {
		err = fmt.Errorf("soft: %s does not belong to %s in %s (was one of them replaced?)", masterFile, dbFile, s.dir)
	}
	if err != nil {
		clear(key)
		return nil, err
	}
	return key, nil
}

// newMaster makes a random master key and writes it, sealed, to name.
func (s *Store) newMaster(name string) ([]byte, error) {
	key := make([]byte, masterKeyLen)
	if _, err := io.ReadFull(s.rand, key); err != nil {
		return nil, fmt.Errorf("soft: master key: %w", err)
	}
	sealed, err := s.sealer.Seal(key)
	if err == nil {
		err = writeFileAtomic(s.dir, name, sealed)
		clear(sealed) // the default sealer without a passphrase holds the key in clear
	}
	if err != nil {
		clear(key)
		return nil, fmt.Errorf("soft: seal master key: %w", err)
	}
	return key, nil
}

// unsealMaster unseals the master key and wipes sealed, which may hold the
// key in clear.
func (s *Store) unsealMaster(sealed []byte) ([]byte, error) {
	key, err := s.sealer.Unseal(sealed)
	clear(sealed)
	if err != nil {
		return nil, fmt.Errorf("soft: unseal master key: %w", err)
	}
	if len(key) != masterKeyLen {
		clear(key)
		return nil, fmt.Errorf("soft: unsealed master key has %d bytes, want %d", len(key), masterKeyLen)
	}
	return key, nil
}

func (s *Store) putKeyCheck(key []byte) error {
	check, err := keyCheck(key)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyKeyCheck, check)
	})
	if err != nil {
		return fmt.Errorf("soft: record key check: %w", err)
	}
	return nil
}

// keyCheck is a one-way value of the master key that the database records,
// so that a master key that does not belong to it is noticed.
func keyCheck(master []byte) ([]byte, error) {
	check, err := hkdf.Key(sha256.New, master, nil, infoKeyCheck, 32)
	if err != nil {
		return nil, fmt.Errorf("soft: derive key check: %w", err)
	}
	return check, nil
}

// matches tells whether master is the key the database's check records.
func matches(master, check []byte) (bool, error) {
	mine, err := keyCheck(master)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(mine, check) == 1, nil
}

// setMaster derives the sealing keys from the master key.
func (s *Store) setMaster(master []byte) error {
	var keys sealKeys
	for _, k := range []struct {
		aead *cipher.AEAD
		info string
	}{
		{&keys.credentialID, infoCredentialID},
		{&keys.keyHandle, infoKeyHandle},
		{&keys.blob, infoBlob},
	} {
		sub, err := hkdf.Key(sha256.New, master, nil, k.info, chacha20poly1305.KeySize)
		if err != nil {
			return fmt.Errorf("soft: derive keys: %w", err)
		}
		*k.aead, err = chacha20poly1305.NewX(sub)
		clear(sub)
		if err != nil {
			return fmt.Errorf("soft: derive keys: %w", err)
		}
	}
	var err error
	if keys.credRandom, err = hkdf.Key(sha256.New, master, nil, infoCredRandom, sha256.Size); err != nil {
		return fmt.Errorf("soft: derive keys: %w", err)
	}
	keys.opened = newOpenCache()
	clear(s.keys.credRandom)
	s.keys.opened.wipe()
	s.keys = keys
	return nil
}

// begin takes the store for an operation; when it succeeds the caller
// defers s.mu.RUnlock, and when it fails the store is not held.
func (s *Store) begin() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	return nil
}

// Backend implements keystore.Keystore: the engine's name.
func (s *Store) Backend() string { return s.engine.Name() }

// Algorithms implements keystore.Keystore: the engine's algorithms.
func (s *Store) Algorithms() []int { return append([]int(nil), s.algs...) }

// MaxCredentialIDLength implements keystore.Keystore: the length of a
// non-discoverable credential ID holding the largest blob sealed into IDs.
func (s *Store) MaxCredentialIDLength() int { return s.maxIDLen }

// GetBlob implements keystore.Keystore.
func (s *Store) GetBlob(name string) ([]byte, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return s.getBlob(name)
}

// getBlob is GetBlob for a caller that holds s.mu.
func (s *Store) getBlob(name string) ([]byte, error) {
	var sealed []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		sealed = slices.Clone(tx.Bucket(bucketBlobs).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("soft: read blob: %w", err)
	}
	if sealed == nil {
		return nil, keystore.ErrNotFound
	}
	if len(sealed) == 0 || sealed[0] != blobV1 {
		return nil, fmt.Errorf("soft: blob %q has an unknown format", name)
	}
	data, err := open(s.keys.blob, sealed, sealAD(blobV1, []byte(name)))
	if err != nil {
		return nil, fmt.Errorf("soft: blob %q does not open: %w", name, err)
	}
	return data, nil
}

// PutBlob implements keystore.Keystore. Names are 1 to 255 bytes.
func (s *Store) PutBlob(name string, data []byte) error {
	if name == "" || len(name) > maxBlobNameLen {
		return fmt.Errorf("soft: blob name must be 1 to %d bytes", maxBlobNameLen)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.putBlob(name, data)
}

// putBlob is PutBlob for a caller that holds s.mu.
func (s *Store) putBlob(name string, data []byte) error {
	sealed, err := seal(s.keys.blob, s.rand, data, sealAD(blobV1, []byte(name)))
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlobs).Put([]byte(name), sealed)
	})
	if err != nil {
		return fmt.Errorf("soft: write blob: %w", err)
	}
	return nil
}

// Reset implements keystore.Keystore: it empties the store and renews the
// master key. The new key is written to master.key.new first and renamed
// over master.key once the emptied database (holding the new key check)
// has committed, so that a crash leaves either the old store or the new one.
func (s *Store) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.reservations.Wait() // none may write into the emptied store
	master, err := s.newMaster(masterNewFile)
	if err != nil {
		return err
	}
	defer clear(master)
	check, err := keyCheck(master)
	if err != nil {
		os.Remove(filepath.Join(s.dir, masterNewFile))
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range dataBuckets {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := putCount(tx, 0); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyKeyCheck, check)
	})
	if err != nil {
		os.Remove(filepath.Join(s.dir, masterNewFile))
		return fmt.Errorf("soft: reset: %w", err)
	}
	// The reset has committed: from here on the new key is the store's key,
	// even if the rename fails (the next Open completes it).
	if err := s.setMaster(master); err != nil {
		return err
	}
	s.cmu.Lock()
	s.counters = map[string]*counter{}
	s.cmu.Unlock()
	s.hmu.Lock()
	s.hmacKey = nil // Reset deleted it with the other blobs
	s.hmu.Unlock()
	err = os.Rename(filepath.Join(s.dir, masterNewFile), filepath.Join(s.dir, masterFile))
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("soft: reset: install new master key: %w", err)
	}
	s.log.Info("keystore reset", "dir", s.dir)
	return nil
}

// Close implements keystore.Keystore: it closes the database and releases
// the lock. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.reservations.Wait()
	clear(s.keys.credRandom)
	s.keys.opened.wipe()
	s.keys = sealKeys{}
	return errors.Join(s.flushUsage(), s.release())
}

// release closes what Open opened.
func (s *Store) release() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
	}
	if fsl, ok := s.sealer.(*fileSealer); ok {
		fsl.forget()
	}
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("soft: close: %w", err)
	}
	return nil
}

var _ keystore.Keystore = (*Store)(nil)
