package tpm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// openSwtpmEngine opens an engine on a swtpm's TCP port.
func openSwtpmEngine(t testing.TB, s *tpmtest.Swtpm) *Engine {
	t.Helper()
	e, err := OpenEngine(Options{Device: s.Device})
	if err != nil {
		t.Fatalf("OpenEngine(%s): %v", s.Device, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// A key made on swtpm signs after the engine closes and swtpm restarts with
// the same state.
func TestSwtpmEngineAcrossRestart(t *testing.T) {
	state := t.TempDir()
	s := tpmtest.StartSwtpm(t, state)
	e := openSwtpmEngine(t, s)
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	sig, err := e.Sign(keystore.ES256, blob, []byte("first"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	verify(t, pub, []byte("first"), sig)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.Stop()

	e = openSwtpmEngine(t, tpmtest.StartSwtpm(t, state))
	before := e.CommandCounts()
	for i := range 3 {
		msg := fmt.Appendf(nil, "after restart %d", i)
		sig, err := e.Sign(keystore.ES256, blob, msg)
		if err != nil {
			t.Fatalf("Sign after restart: %v", err)
		}
		verify(t, pub, msg, sig)
	}
	if got := e.CommandCounts().Sub(before); got[tpm2.TPMCCSign] != 3 || got[tpm2.TPMCCLoad] != 1 || got.Total() != 4 {
		t.Errorf("3 signatures sent %v, want 1 Load and 3 Sign", got)
	}
}

// The TPM holds no resource manager on a raw TCP port: objects left by a
// process that died are flushed when the next engine opens.
func TestSwtpmStaleObjects(t *testing.T) {
	s := tpmtest.StartSwtpm(t, t.TempDir())
	crashed, err := OpenEngine(Options{Device: s.Device})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, blob, err := crashed.Generate(keystore.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := crashed.Sign(keystore.ES256, blob, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	// Die without flushing anything: the primary and two keys stay loaded.
	if err := crashed.closeTransport(); err != nil {
		t.Fatal(err)
	}
	e := openSwtpmEngine(t, s)
	if h := transientHandles(t, e.tpm); len(h) != 1 || h[0] != e.primary.Handle {
		t.Errorf("after open, transient objects %v, want only the primary", h)
	}
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.Sign(keystore.ES256, blob, []byte("m"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	verify(t, pub, []byte("m"), sig)
}

// The private key of a credential cannot be read out of the TPM: the blob
// holds only the private area encrypted by this TPM's storage key, which
// another TPM cannot load; the TPM reports only the public area; and it
// refuses to duplicate the key, because no policy allows it and, even when
// one does, because of fixedTPM/fixedParent.
func TestSwtpmPrivateKeyStaysInTPM(t *testing.T) {
	s := tpmtest.StartSwtpm(t, t.TempDir())
	e := openSwtpmEngine(t, s)
	pub, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	e.mu.Lock()
	key, err := e.credentialKey(blob)
	e.mu.Unlock()
	if err != nil {
		t.Fatalf("load key: %v", err)
	}

	t.Run("ReadPublic", func(t *testing.T) {
		rsp, err := tpm2.ReadPublic{ObjectHandle: key.Handle}.Execute(e.tpm)
		if err != nil {
			t.Fatalf("ReadPublic: %v", err)
		}
		area, err := rsp.OutPublic.Contents()
		if err != nil {
			t.Fatal(err)
		}
		a := area.ObjectAttributes
		if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || a.Decrypt || a.Restricted || !a.SignEncrypt {
			t.Errorf("key attributes %+v: want fixedTPM, fixedParent, sensitiveDataOrigin, sign only", a)
		}
		point, err := area.Unique.ECC()
		if err != nil {
			t.Fatal(err)
		}
		if pk, err := publicKey(keyP256, unique{point: *point}); err != nil || !cose.Equal(pk, pub) {
			t.Errorf("ReadPublic gives public key %v (%v), want the credential's", pk, err)
		}
	})

	duplicate := func(h tpm2.NamedHandle) error {
		_, err := tpm2.Duplicate{
			ObjectHandle: tpm2.AuthHandle{
				Handle: h.Handle,
				Name:   h.Name,
				Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, tpm2.PolicyCallback(func(tpm transport.TPM, sess tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
					_, err := tpm2.PolicyCommandCode{PolicySession: sess, Code: tpm2.TPMCCDuplicate}.Execute(tpm)
					return err
				})),
			},
			NewParentHandle: tpm2.TPMRHNull,
			Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(e.tpm)
		return err
	}
	t.Run("Duplicate", func(t *testing.T) {
		err := duplicate(key)
		if !errors.Is(err, tpm2.TPMRCPolicyFail) {
			t.Errorf("Duplicate = %v, want TPM_RC_POLICY_FAIL (the key has no policy)", err)
		}
		t.Log(err)
	})
	t.Run("DuplicateAllowedByPolicy", func(t *testing.T) {
		// A twin of a credential key whose policy allows TPM2_Duplicate.
		calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := (tpm2.PolicyCommandCode{Code: tpm2.TPMCCDuplicate}).Update(calc); err != nil {
			t.Fatal(err)
		}
		tmpl := credentialKeyTemplate(keyP256, unique{})
		tmpl.AuthPolicy = tpm2.TPM2BDigest{Buffer: calc.Hash().Digest}
		created, err := tpm2.Create{ParentHandle: e.primary, InPublic: tpm2.New2B(tmpl)}.Execute(e.tpm)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		pubArea, err := created.OutPublic.Contents()
		if err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		twin, err := e.load(created.OutPrivate, *pubArea)
		e.mu.Unlock()
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		defer func() { _, _ = (tpm2.FlushContext{FlushHandle: twin.Handle}).Execute(e.tpm) }()
		err = duplicate(twin)
		if !errors.Is(err, tpm2.TPMRCAttributes) {
			t.Errorf("Duplicate = %v, want TPM_RC_ATTRIBUTES (fixedParent)", err)
		}
		t.Log(err)
	})
	t.Run("OtherTPM", func(t *testing.T) {
		other := openSwtpmEngine(t, tpmtest.StartSwtpm(t, t.TempDir()))
		if _, err := other.Sign(keystore.ES256, blob, []byte("m")); !errors.Is(err, tpm2.TPMRCIntegrity) {
			t.Errorf("Sign on another TPM: %v, want TPM_RC_INTEGRITY", err)
		}
	})
}
