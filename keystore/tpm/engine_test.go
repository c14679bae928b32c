package tpm

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// verify checks an ES256 signature over msg.
func verify(t *testing.T, pub any, msg, sig []byte) {
	t.Helper()
	pk, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T, want *ecdsa.PublicKey", pub)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pk, digest[:], sig) {
		t.Fatalf("signature over %q does not verify", msg)
	}
}

func TestEngineGenerateSign(t *testing.T) {
	e := openTestEngine(t, tpmtest.Simulator(t), 0)
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(blob) > e.MaxBlobLen() {
		t.Errorf("blob is %d bytes, MaxBlobLen %d", len(blob), e.MaxBlobLen())
	}
	t.Logf("key blob: %d bytes (max %d)", len(blob), e.MaxBlobLen())
	for _, msg := range [][]byte{nil, []byte("authenticatorData||clientDataHash"), make([]byte, 4096)} {
		sig, err := e.Sign(keystore.ES256, blob, msg)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		verify(t, pub, msg, sig)
	}
	// A second key is a different key.
	pub2, blob2, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if pub2.(*ecdsa.PublicKey).Equal(pub) || string(blob2) == string(blob) {
		t.Fatal("two Generate calls made the same key")
	}
	sig, err := e.Sign(keystore.ES256, blob2, []byte("m"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if d := sha256.Sum256([]byte("m")); ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature of key 2 verifies with key 1")
	}
	verify(t, pub2, []byte("m"), sig)
}

// The engine makes what the TPM can (the simulator: every algorithm of
// vauth but EdDSA and ES256K) and refuses the rest, and a blob signs only
// with the algorithms of its key type.
func TestEngineUnsupportedAlgorithm(t *testing.T) {
	e := openTestEngine(t, tpmtest.Simulator(t), 0)
	_, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if got, want := e.Algorithms(), []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256}; !slices.Equal(got, want) {
		t.Errorf("Algorithms() = %v, want %v", got, want)
	}
	for _, alg := range []int{keystore.EdDSA, 0, keystore.ES256K} {
		t.Run(fmt.Sprint(alg), func(t *testing.T) {
			if _, _, err := e.Generate(alg); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
				t.Errorf("Generate(%d) = %v, want ErrUnsupportedAlgorithm", alg, err)
			}
			if _, err := e.Sign(alg, blob, []byte("m")); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
				t.Errorf("Sign(%d) = %v, want ErrUnsupportedAlgorithm", alg, err)
			}
		})
	}
	for _, alg := range []int{keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256} {
		if _, err := e.Sign(alg, blob, []byte("m")); err == nil || errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
			t.Errorf("Sign(%s) with a P-256 key = %v, want a bad-blob error", keystore.AlgorithmName(alg), err)
		}
	}
}

// A blob made by one engine signs in a later engine on the same TPM: the
// primary key is the same key each time.
func TestEngineBlobAcrossReopen(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	e1 := openTestEngine(t, tpm, 0)
	pub, blob, err := e1.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if err := e1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if h := transientHandles(t, tpm); len(h) != 0 {
		t.Fatalf("after Close, %d transient objects are still loaded", len(h))
	}
	if _, err := e1.Sign(keystore.ES256, blob, []byte("m")); err == nil {
		t.Fatal("Sign after Close succeeded")
	}
	e2 := openTestEngine(t, tpm, 0)
	sig, err := e2.Sign(keystore.ES256, blob, []byte("after reopen"))
	if err != nil {
		t.Fatalf("Sign in reopened engine: %v", err)
	}
	verify(t, pub, []byte("after reopen"), sig)
}

// The cache of loaded keys: a new key stays loaded; a cached key costs one
// TPM2_Sign; a key past the cache's capacity evicts the least recently used
// one and still signs.
func TestEngineCache(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	e := openTestEngine(t, tpm, 2)
	pubs := make([]any, 3)
	blobs := make([][]byte, 3)
	for i := range blobs {
		var err error
		if pubs[i], blobs[i], err = e.Generate(keystore.ES256); err != nil {
			t.Fatalf("Generate: %v", err)
		}
	}
	load := tpm2.TPMCCLoad
	sign := tpm2.TPMCCSign
	flush := tpm2.TPMCCFlushContext
	steps := []struct {
		key  int
		want CommandCounts
	}{
		{2, CommandCounts{sign: 1}}, // keys 2 and 1 stayed loaded when made
		{1, CommandCounts{sign: 1}},
		{0, CommandCounts{flush: 1, load: 1, sign: 1}}, // evicts key 2
		{0, CommandCounts{sign: 1}},
		{1, CommandCounts{sign: 1}},
		{2, CommandCounts{flush: 1, load: 1, sign: 1}}, // evicts key 0
		{1, CommandCounts{sign: 1}},
	}
	for i, s := range steps {
		before := e.CommandCounts()
		msg := fmt.Appendf(nil, "step %d", i)
		sig, err := e.Sign(keystore.ES256, blobs[s.key], msg)
		if err != nil {
			t.Fatalf("step %d: Sign: %v", i, err)
		}
		verify(t, pubs[s.key], msg, sig)
		if got := e.CommandCounts().Sub(before); !maps.Equal(got, s.want) {
			t.Errorf("step %d (key %d): TPM commands %v, want %v", i, s.key, got, s.want)
		}
	}
	// The primary and two cached keys.
	if h := transientHandles(t, tpm); len(h) != 3 {
		t.Errorf("%d transient objects loaded, want 3", len(h))
	}
	// A new key evicts one to make room, and is made loaded.
	before := e.CommandCounts()
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate with a full cache: %v", err)
	}
	if got, want := e.CommandCounts().Sub(before), (CommandCounts{tpm2.TPMCCCreateLoaded: 1, flush: 1}); !maps.Equal(got, want) {
		t.Errorf("Generate with a full cache sent %v, want %v", got, want)
	}
	before = e.CommandCounts()
	sig, err := e.Sign(keystore.ES256, blob, []byte("m"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	verify(t, pub, []byte("m"), sig)
	if got, want := e.CommandCounts().Sub(before), (CommandCounts{sign: 1}); !maps.Equal(got, want) {
		t.Errorf("the first signature with a new key sent %v, want %v", got, want)
	}
}

// noCreateLoaded is a TPM that predates TPM2_CreateLoaded: it answers
// TPM_RC_COMMAND_CODE.
type noCreateLoaded struct{ transport.TPM }

func (t noCreateLoaded) Send(cmd []byte) ([]byte, error) {
	if len(cmd) >= headerSize && tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])) == tpm2.TPMCCCreateLoaded {
		rsp := []byte{0x80, 0x01, 0, 0, 0, headerSize, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(rsp[6:], uint32(tpm2.TPMRCCommandCode))
		return rsp, nil
	}
	return t.TPM.Send(cmd)
}

// On a TPM without TPM2_CreateLoaded, keys are made with TPM2_Create and
// TPM2_Load, and the engine stops asking after the first refusal.
func TestEngineWithoutCreateLoaded(t *testing.T) {
	e := openTestEngine(t, noCreateLoaded{tpmtest.Simulator(t)}, 0)
	for i, want := range []CommandCounts{
		{tpm2.TPMCCCreateLoaded: 1, tpm2.TPMCCCreate: 1, tpm2.TPMCCLoad: 1},
		{tpm2.TPMCCCreate: 1, tpm2.TPMCCLoad: 1},
	} {
		before := e.CommandCounts()
		pub, blob, err := e.Generate(keystore.ES256)
		if err != nil {
			t.Fatalf("Generate %d: %v", i, err)
		}
		if got := e.CommandCounts().Sub(before); !maps.Equal(got, want) {
			t.Errorf("Generate %d sent %v, want %v", i, got, want)
		}
		before = e.CommandCounts()
		sig, err := e.Sign(keystore.ES256, blob, []byte("m"))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		verify(t, pub, []byte("m"), sig)
		if got := e.CommandCounts().Sub(before); got.Total() != 1 {
			t.Errorf("the first signature with key %d sent %v, want one TPM2_Sign", i, got)
		}
	}
}

func TestEngineBadBlob(t *testing.T) {
	e := openTestEngine(t, tpmtest.Simulator(t), 0)
	_, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), blob...)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name string
		blob []byte
	}{
		{"empty", nil},
		{"version only", blob[:1]},
		{"unknown version", flip(0)},
		{"truncated", blob[:len(blob)-1]},
		{"trailing byte", append(append([]byte(nil), blob...), 0)},
		{"private area tampered", flip(20)},
		{"public point tampered", flip(len(blob) - 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.Sign(keystore.ES256, c.blob, []byte("m")); err == nil {
				t.Fatal("Sign succeeded")
			}
		})
	}
	// The good blob still signs after all that.
	if _, err := e.Sign(keystore.ES256, blob, []byte("m")); err != nil {
		t.Fatalf("Sign: %v", err)
	}
}

// An owner authorization makes CreatePrimary fail with TPM_RC_BAD_AUTH,
// which the engine reports as ErrOwnerAuth.
func TestEngineOwnerAuth(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		NewAuth:    tpm2.TPM2BAuth{Buffer: []byte("owner secret")},
	}).Execute(tpm); err != nil {
		t.Fatalf("HierarchyChangeAuth: %v", err)
	}
	_, err := OpenEngine(Options{TPM: tpm})
	if !errors.Is(err, ErrOwnerAuth) {
		t.Fatalf("OpenEngine = %v, want ErrOwnerAuth", err)
	}
	t.Log(err)
}

// A TPM in dictionary-attack lockout: the error says so and how long it
// lasts, and vauth's own keys (noDA) keep working.
func TestLockout(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	e := openTestEngine(t, tpm, 0)
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// A DA-protected object of some other program, with a password.
	created, err := tpm2.Create{
		ParentHandle: e.primary,
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			UserAuth: tpm2.TPM2BAuth{Buffer: []byte("right")},
			Data:     tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: []byte("x")}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgKeyedHash,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, UserWithAuth: true},
		}),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	loaded, err := tpm2.Load{ParentHandle: e.primary, InPrivate: created.OutPrivate, InPublic: created.OutPublic}.Execute(tpm)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer func() { _, _ = (tpm2.FlushContext{FlushHandle: loaded.ObjectHandle}).Execute(tpm) }()
	var lockErr error
	for range 10 {
		_, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{
			Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: tpm2.PasswordAuth([]byte("wrong")),
		}}.Execute(tpm)
		if errors.Is(err, tpm2.TPMRCLockout) {
			lockErr = tpmError(tpm, "unseal", err)
			break
		}
		if !errors.Is(err, tpm2.TPMRCAuthFail) {
			t.Fatalf("Unseal with a wrong password: %v, want TPM_RC_AUTH_FAIL", err)
		}
	}
	if !errors.Is(lockErr, ErrLockout) {
		t.Fatalf("no lockout after 10 failures: %v", lockErr)
	}
	// The simulator's defaults: 3 tries, one forgiven per 1000 s.
	for _, want := range []string{"3 failed authorizations, limit 3", "16m40s", "tpm2_dictionarylockout"} {
		if !strings.Contains(lockErr.Error(), want) {
			t.Errorf("lockout error %q does not say %q", lockErr, want)
		}
	}
	t.Log(lockErr)
	sig, err := e.Sign(keystore.ES256, blob, []byte("during lockout"))
	if err != nil {
		t.Fatalf("Sign during lockout: %v", err)
	}
	verify(t, pub, []byte("during lockout"), sig)
}

func TestOpenDeviceErrors(t *testing.T) {
	missing := t.TempDir() + "/tpmrm0"
	_, err := OpenEngine(Options{Device: missing})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "--keystore soft") {
		t.Errorf("OpenEngine(%s) = %v, want ErrNoDevice pointing to --keystore soft", missing, err)
	}
	// A device node this user may not open. Root opens anything, so this
	// part runs only as another user.
	if os.Geteuid() != 0 {
		if _, err := OpenEngine(Options{Device: "/dev/mem"}); !errors.Is(err, ErrDeviceAccess) || !strings.Contains(err.Error(), "group tss") {
			t.Errorf("OpenEngine(/dev/mem) = %v, want ErrDeviceAccess naming group tss", err)
		}
	}
	// Nothing listens on port 1.
	if _, err := OpenEngine(Options{Device: "tcp:127.0.0.1:1"}); err == nil {
		t.Error("OpenEngine(tcp:127.0.0.1:1) succeeded")
	}
}

// Signatures from several goroutines with more keys than the cache holds.
func TestEngineConcurrent(t *testing.T) {
	e := openTestEngine(t, tpmtest.Simulator(t), 2)
	type key struct {
		pub  any
		blob []byte
	}
	keys := make([]key, 3)
	for i := range keys {
		var err error
		if keys[i].pub, keys[i].blob, err = e.Generate(keystore.ES256); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 10 {
				k := keys[(g+i)%len(keys)]
				msg := fmt.Appendf(nil, "%d/%d", g, i)
				sig, err := e.Sign(keystore.ES256, k.blob, msg)
				if err != nil {
					errs <- err
					return
				}
				d := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(k.pub.(*ecdsa.PublicKey), d[:], sig) {
					errs <- fmt.Errorf("signature over %q does not verify", msg)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
