package tpm

import (
	"bytes"
	"container/list"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// DefaultCacheSize is how many keys stay loaded by default, and
// the least there can be: certifying a credential key needs it and the
// attestation key loaded at once. With the storage primary it makes three
// transient objects: the least a TPM must hold, and the most the kernel
// resource manager lets one open /dev/tpmrm0 have.
const DefaultCacheSize = 2

// First bytes of key blobs, which say the key's template.
const (
	// keyBlobVersion marks a P-256 credential key: an unrestricted signing
	// key with no scheme of its own (Sign names ECDSA-SHA256 each time), so
	// that its public area reads as TPM attestation verifiers expect. The
	// other credential key types are in keyTypes.
	keyBlobVersion = 2
	// attestationKeyBlobVersion marks the attestation key (AIK): a
	// restricted P-256 ECDSA-SHA256 signing key.
	attestationKeyBlobVersion = 0x41
)

// maxBlobLen is the longest blob of a key of type k: the version byte,
// the TPM2B_PRIVATE of a key with an empty authValue under a
// SHA-256/AES-128 storage parent (size, integrity HMAC, IV, then the
// encrypted TPM2B_SENSITIVE: size, type, authValue, seedValue, and the ECC
// private scalar or the RSA private key), and the unique field (a
// TPMS_ECC_POINT or TPM2B_PUBLIC_KEY_RSA). An RSA private key is one prime
// (TPM 2.0 Part 2 §12.3.2.3, as swtpm keeps it) or, in the reference
// implementation's CRT form, five half-size values (its RSA_PRIVATE_SIZE).
func (k *keyType) maxBlobLen() int {
	secret, uniqueLen := k.size, 2*(2+k.size)
	if k.isRSA() {
		secret, uniqueLen = 5*k.size/2, 2+k.size
	}
	return 1 + 2 + (2 + sha256.Size) + (2 + 16) + 2 + 2 + 2 + (2 + sha256.Size) + (2 + secret) + uniqueLen
}

// errClosed is returned by an engine used after Close.
var errClosed = errors.New("tpm: engine is closed")

// errBlobTooLong: the TPM made a key whose blob is longer than the key
// type's bound, and so than credential IDs may be.
var errBlobTooLong = errors.New("blob too long")

// Engine is a soft.KeyEngine whose credential keys are TPM objects: ECC
// or RSA signing keys made by TPM2_Create under a storage primary key, so
// their private parts never leave the TPM unencrypted (fixedTPM,
// fixedParent). The primary is created once when the engine opens and stays
// loaded; recently used credential keys stay loaded too, so that repeated
// signatures with one credential cost one TPM2_Sign. Safe for concurrent
// use: commands are serialised.
type Engine struct {
	mu     sync.Mutex
	tpm    *countingTPM
	closer io.Closer // the transport, when the engine opened it
	closed bool

	primary    tpm2.NamedHandle
	primaryPub tpm2.TPMTPublic

	capacity int
	lru      *list.List               // of *loadedKey, most recent first
	loaded   map[string]*list.Element // by key blob

	// noCreateLoaded: the TPM lacks TPM2_CreateLoaded (it predates
	// revision 1.38), so keys are made with TPM2_Create and TPM2_Load.
	noCreateLoaded bool
	recent         recentKeys // see certify.go
	info           *Info      // the TPM's identity, read on first use

	// algs is what this TPM can make, in vauth's preference order, under
	// algsMu rather than mu, which a TPM command (an RSA key generation:
	// seconds on some TPMs) holds.
	algsMu     sync.Mutex
	algs       []int
	maxBlobLen int // of the key types the TPM supports
}

// loadedKey is a credential key held loaded in the TPM.
type loadedKey struct {
	blob   string
	handle tpm2.NamedHandle
}

// OpenEngine connects to the TPM that opts names (Device or TPM; the Soft
// options are not used) and creates the storage primary key.
func OpenEngine(opts Options) (*Engine, error) {
	e := &Engine{capacity: max(opts.CacheSize, DefaultCacheSize), lru: list.New(), loaded: map[string]*list.Element{}}
	t := opts.TPM
	if t == nil {
		if opts.Device == "" {
			opts.Device = DefaultDevice
		}
		tc, err := OpenDevice(opts.Device)
		if err != nil {
			return nil, err
		}
		t, e.closer = tc, tc
	}
	e.tpm = &countingTPM{next: t, counts: CommandCounts{}}
	if strings.HasPrefix(opts.Device, tcpPrefix) && opts.TPM == nil {
		// A raw TCP TPM has no resource manager: objects that an earlier
		// process left loaded (it crashed, or was killed) would fill the
		// TPM's few object slots. vauth takes the TPM as its own.
		if err := e.flushTransients(); err != nil {
			return nil, errors.Join(err, e.closeTransport())
		}
	}
	if err := e.createPrimary(); err != nil {
		return nil, errors.Join(err, e.closeTransport())
	}
	caps, err := e.readCapabilities()
	if err != nil {
		return nil, errors.Join(err, e.Close())
	}
	e.algs = offeredAlgorithms(caps)
	if !slices.Contains(e.algs, keystore.ES256) {
		// The storage primary and the attestation key are P-256 keys.
		return nil, errors.Join(fmt.Errorf("tpm: the TPM lacks ECDSA P-256 with SHA-256, which vauth needs"), e.Close())
	}
	for _, alg := range e.algs {
		e.maxBlobLen = max(e.maxBlobLen, signAlgorithms[alg].key.maxBlobLen())
	}
	return e, nil
}

// flushTransients flushes every transient object loaded in the TPM.
func (e *Engine) flushTransients() error {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      uint32(tpm2.TPMHTTransient) << 24,
		PropertyCount: 64,
	}.Execute(e.tpm)
	if err != nil {
		return tpmError(e.tpm, "list transient objects", err)
	}
	handles, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		return fmt.Errorf("tpm: list transient objects: %w", err)
	}
	for _, h := range handles.Handle {
		if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(e.tpm); err != nil {
			return tpmError(e.tpm, "flush stale object", err)
		}
	}
	return nil
}

// createPrimary creates the storage primary key in the owner hierarchy from
// the TCG's ECC P-256 SRK template: the TPM derives it from the owner seed,
// so it is the same key on every call, with nothing stored in the TPM's NV.
func (e *Engine) createPrimary() error {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(e.tpm)
	if errors.Is(err, tpm2.TPMRCBadAuth) {
		return fmt.Errorf("%w: vauth creates its storage key under the owner hierarchy with an empty authorization; remove the owner authorization (tpm2_changeauth -c owner -p OLD) or use --keystore soft", ErrOwnerAuth)
	}
	if err != nil {
		return tpmError(e.tpm, "create storage primary key", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return fmt.Errorf("tpm: storage primary key: %w", err)
	}
	e.primary = tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	e.primaryPub = *pub
	return nil
}

// Name implements soft.KeyEngine.
func (e *Engine) Name() string { return "tpm" }

// Algorithms implements soft.KeyEngine: those of ES256, ES384, ES512,
// RS256 and PS256 that this TPM supports (read when the engine opened), in
// vauth's order of preference. A TPM 2.0 has no Ed25519 and no secp256k1.
func (e *Engine) Algorithms() []int {
	e.algsMu.Lock()
	defer e.algsMu.Unlock()
	return slices.Clone(e.algs)
}

// MaxBlobLen implements soft.KeyEngine: the longest blob of the key types
// of Algorithms (RSA's, when the TPM makes RSA keys).
func (e *Engine) MaxBlobLen() int { return e.maxBlobLen }

// MaxInlineBlobLen implements soft.InlineLimiter: a P-256 key's blob. ES256
// credential IDs stay as they were (285 bytes at most, two to a uhid
// message); the longer P-384, P-521 and RSA blobs are kept in the store
// behind short IDs, so that they do not shrink maxCredentialCountInList for
// everyone (sealed in an ID, an RSA blob in CRT form would pass WebAuthn's
// 1023 bytes).
func (e *Engine) MaxInlineBlobLen() int { return keyP256.maxBlobLen() }

// Generate implements soft.KeyEngine with TPM2_CreateLoaded, which makes
// the key and leaves it loaded for the attestation and the first assertion
// that follow. The blob is a version byte (the key type), the key's
// TPM2B_PRIVATE (encrypted and integrity-protected by the storage primary,
// so only this TPM can load it) and its public point or modulus; the rest
// of the public area is the fixed template. RSA key generation takes the
// TPM a while (a prime search); the caller runs it off the CTAPHID loop.
func (e *Engine) Generate(alg int) (crypto.PublicKey, []byte, error) {
	s, ok := signAlgorithms[alg]
	if !ok || !slices.Contains(e.Algorithms(), alg) {
		return nil, nil, fmt.Errorf("%w: %s (this TPM makes %s)", keystore.ErrUnsupportedAlgorithm, keystore.AlgorithmName(alg), algorithmNames(e.Algorithms()))
	}
	if err := e.lock(); err != nil {
		return nil, nil, err
	}
	defer e.mu.Unlock()
	pk, blob, err := e.createKey(s.key.version, s.key, credentialKeyTemplate, "credential key")
	if err != nil {
		return nil, nil, err
	}
	e.recent.add(pk, blob)
	return pk, blob, nil
}

// algorithmNames lists algorithms by name, comma-separated.
func algorithmNames(algs []int) string {
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = keystore.AlgorithmName(a)
	}
	return strings.Join(names, ", ")
}

// createKey makes a key of type k from template under the primary, leaves
// it loaded in the cache, and returns its public key and its blob (first
// byte version). e.mu is held.
func (e *Engine) createKey(version byte, k *keyType, template func(*keyType, unique) tpm2.TPMTPublic, what string) (crypto.PublicKey, []byte, error) {
	h, priv, pub, err := e.createLoaded(template(k, unique{}))
	if err != nil {
		return nil, nil, tpmError(e.tpm, "create "+what, err)
	}
	blob, pk, err := keyBlob(version, k, template, priv, pub, what)
	if err != nil {
		return nil, nil, errors.Join(err, e.flush(h.Handle, "flush "+what))
	}
	e.cache(blob, h)
	return pk, blob, nil
}

// keyBlob makes the blob of a new key from what the TPM returned: the
// version byte, the private area and the unique field.
func keyBlob(version byte, k *keyType, template func(*keyType, unique) tpm2.TPMTPublic, priv tpm2.TPM2BPrivate, pub *tpm2.TPMTPublic, what string) ([]byte, crypto.PublicKey, error) {
	u, err := uniqueOf(k, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("tpm: %s public area: %w", what, err)
	}
	// Load checks the private area against the public area's name, so the
	// template rebuilt from the unique field must be exactly what the TPM
	// made.
	if !bytes.Equal(tpm2.Marshal(template(k, u)), tpm2.Marshal(*pub)) {
		return nil, nil, fmt.Errorf("tpm: the TPM changed the %s template", what)
	}
	pk, err := publicKey(k, u)
	if err != nil {
		return nil, nil, err
	}
	blob := []byte{version}
	blob = append(blob, tpm2.Marshal(priv)...)
	blob = append(blob, u.marshal(k)...)
	if len(blob) > k.maxBlobLen() {
		return nil, nil, fmt.Errorf("tpm: %s %w: %d bytes, more than %d", what, errBlobTooLong, len(blob), k.maxBlobLen())
	}
	return blob, pk, nil
}

// createLoaded makes an object from template under the primary and leaves
// it loaded: TPM2_CreateLoaded, or TPM2_Create then TPM2_Load on a TPM that
// lacks it. Like load, it first makes room in the cache. e.mu is held.
func (e *Engine) createLoaded(template tpm2.TPMTPublic) (tpm2.NamedHandle, tpm2.TPM2BPrivate, *tpm2.TPMTPublic, error) {
	if err := e.makeRoom(); err != nil {
		return tpm2.NamedHandle{}, tpm2.TPM2BPrivate{}, nil, err
	}
	if !e.noCreateLoaded {
		var rsp *tpm2.CreateLoadedResponse
		err := e.withObjectSlot(func() (err error) {
			rsp, err = tpm2.CreateLoaded{ParentHandle: e.primary, InPublic: tpm2.New2BTemplate(&template)}.Execute(e.tpm)
			return err
		})
		switch {
		case err == nil:
			h := tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
			pub, err := rsp.OutPublic.Contents()
			if err != nil {
				return tpm2.NamedHandle{}, tpm2.TPM2BPrivate{}, nil, errors.Join(err, e.flush(h.Handle, "flush new object"))
			}
			return h, rsp.OutPrivate, pub, nil
		case errors.Is(err, tpm2.TPMRCCommandCode):
			e.noCreateLoaded = true
		default:
			return tpm2.NamedHandle{}, tpm2.TPM2BPrivate{}, nil, err
		}
	}
	var rsp *tpm2.CreateResponse
	err := e.withObjectSlot(func() (err error) {
		rsp, err = tpm2.Create{ParentHandle: e.primary, InPublic: tpm2.New2B(template)}.Execute(e.tpm)
		return err
	})
	if err != nil {
		return tpm2.NamedHandle{}, tpm2.TPM2BPrivate{}, nil, err
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return tpm2.NamedHandle{}, tpm2.TPM2BPrivate{}, nil, err
	}
	h, err := e.load(rsp.OutPrivate, *pub)
	return h, rsp.OutPrivate, pub, err
}

// parseKeyBlob splits the blob of the attestation key (aik) or of a
// credential key into its key type, private area and unique field.
func parseKeyBlob(blob []byte, aik bool) (*keyType, tpm2.TPM2BPrivate, unique, error) {
	bad := func(what string) (*keyType, tpm2.TPM2BPrivate, unique, error) {
		return nil, tpm2.TPM2BPrivate{}, unique{}, fmt.Errorf("tpm: bad key blob: %s", what)
	}
	s := cryptobyte.String(blob)
	var v uint8
	var priv []byte
	if !s.ReadUint8(&v) {
		return bad("empty")
	}
	k, ok := keyTypeOf(v)
	if aik {
		k, ok = keyP256, v == attestationKeyBlobVersion
	}
	if !ok {
		return bad(fmt.Sprintf("version %d", v))
	}
	if !s.ReadUint16LengthPrefixed((*cryptobyte.String)(&priv)) {
		return bad("truncated")
	}
	u, ok := parseUnique(k, s)
	if !ok {
		return bad("truncated or trailing data")
	}
	return k, tpm2.TPM2BPrivate{Buffer: priv}, u, nil
}

// Sign implements soft.KeyEngine: the algorithm's hash on the host,
// TPM2_Sign on the digest with the algorithm's scheme, the signature
// returned as WebAuthn wants it (§6.5.5: ASN.1 DER for ECDSA).
func (e *Engine) Sign(alg int, blob []byte, msg []byte) ([]byte, error) {
	s, ok := signAlgorithms[alg]
	if !ok {
		return nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
	}
	if len(blob) == 0 || blob[0] != s.key.version {
		return nil, fmt.Errorf("tpm: bad key blob for %s", keystore.AlgorithmName(alg))
	}
	digest, err := cose.Digest(alg, msg)
	if err != nil {
		return nil, err
	}
	if err := e.lock(); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	key, err := e.credentialKey(blob)
	if err != nil {
		return nil, err
	}
	return e.signDigest(key, s, digest)
}

// credentialKey returns the loaded credential key of blob. e.mu is held.
func (e *Engine) credentialKey(blob []byte) (tpm2.NamedHandle, error) {
	return e.key(blob, false)
}

// key returns the loaded key of blob, the attestation key's (aik) or a
// credential key's, from the cache or by TPM2_Load. e.mu is held.
func (e *Engine) key(blob []byte, aik bool) (tpm2.NamedHandle, error) {
	if el, ok := e.loaded[string(blob)]; ok {
		e.lru.MoveToFront(el)
		return el.Value.(*loadedKey).handle, nil
	}
	template, what := credentialKeyTemplate, "credential key"
	if aik {
		template, what = attestationKeyTemplate, "attestation key"
	}
	k, priv, u, err := parseKeyBlob(blob, aik)
	if err != nil {
		return tpm2.NamedHandle{}, err
	}
	h, err := e.load(priv, template(k, u))
	if err != nil {
		return tpm2.NamedHandle{}, tpmError(e.tpm, "load "+what, err)
	}
	e.cache(blob, h)
	return h, nil
}

// cache records a loaded key as the most recently used. The cache has room:
// load and createLoaded made it. e.mu is held.
func (e *Engine) cache(blob []byte, h tpm2.NamedHandle) {
	k := &loadedKey{blob: string(blob), handle: h}
	e.loaded[k.blob] = e.lru.PushFront(k)
}

// makeRoom evicts cached keys down to capacity-1, so that the engine never
// holds more than the primary and capacity other objects. e.mu is held.
func (e *Engine) makeRoom() error {
	for e.lru.Len() >= e.capacity {
		if err := e.evictOldest(); err != nil {
			return err
		}
	}
	return nil
}

// load loads an object under the primary, first making room in the cache.
// e.mu is held.
func (e *Engine) load(priv tpm2.TPM2BPrivate, pub tpm2.TPMTPublic) (tpm2.NamedHandle, error) {
	if err := e.makeRoom(); err != nil {
		return tpm2.NamedHandle{}, err
	}
	var h tpm2.NamedHandle
	err := e.withObjectSlot(func() error {
		rsp, err := tpm2.Load{ParentHandle: e.primary, InPrivate: priv, InPublic: tpm2.New2B(pub)}.Execute(e.tpm)
		if err == nil {
			h = tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
		}
		return err
	})
	return h, err
}

// withObjectSlot runs cmd, a command that needs a free object slot in the
// TPM (TPM2_Load, and TPM2_CreateLoaded or TPM2_Create for the object it
// builds), and while the TPM reports its object memory full, evicts a
// cached key and runs cmd again. Many TPMs hold only three objects. e.mu is
// held.
func (e *Engine) withObjectSlot(cmd func() error) error {
	for {
		err := cmd()
		if !errors.Is(err, tpm2.TPMRCObjectMemory) || e.lru.Len() == 0 {
			return err
		}
		if err := e.evictOldest(); err != nil {
			return err
		}
	}
}

// evictOldest flushes the least recently used cached key, but spares the
// store's own keys, the attestation key and the hmac-secret key, while a
// credential key can go instead: every registration with TPM attestation
// needs the one and every assertion with hmac-secret the other, next to a
// credential key, so keeping them loaded saves a TPM2_Load and a
// TPM2_FlushContext each time. Unused, they are never loaded. e.mu is held.
func (e *Engine) evictOldest() error {
	el := e.lru.Back()
	for c := el; c != nil; c = c.Prev() {
		if v := c.Value.(*loadedKey).blob[0]; v != attestationKeyBlobVersion && v != hmacKeyBlobVersion {
			el = c
			break
		}
	}
	k := e.lru.Remove(el).(*loadedKey)
	delete(e.loaded, k.blob)
	return e.flush(k.handle.Handle, "flush cached key")
}

// flush unloads a transient object. e.mu is held.
func (e *Engine) flush(h tpm2.TPMHandle, op string) error {
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(e.tpm); err != nil {
		return tpmError(e.tpm, op, err)
	}
	return nil
}

// CommandCounts returns how many TPM commands of each code the engine has
// sent since it opened; subtract an earlier snapshot to see what an
// operation cost.
func (e *Engine) CommandCounts() CommandCounts { return e.tpm.snapshot() }

// lock takes the engine for an operation on the TPM; when it succeeds the
// caller defers e.mu.Unlock, and when the engine is closed it is not held.
func (e *Engine) lock() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	return nil
}

// Close flushes the loaded credential keys and the primary key, and closes
// the TPM if the engine opened it.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for e.lru.Len() > 0 {
		errs = append(errs, e.evictOldest())
	}
	errs = append(errs, e.flush(e.primary.Handle, "flush storage primary key"))
	errs = append(errs, e.closeTransport())
	return errors.Join(errs...)
}

func (e *Engine) closeTransport() error {
	if e.closer == nil {
		return nil
	}
	return e.closer.Close()
}
