package ctap2_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
)

// pcmrToken gets the persistent pinUvAuthToken with the PIN.
func (d *device) pcmrToken(version int, pin string) *client.Token {
	d.t.Helper()
	return d.token(version, pin, pinuv.PermissionPCMR, "")
}

// TestPersistentToken: the pcmr token reads (getCredsMetadata, both
// enumerations with their getNext), is the same value each time it is
// asked for, survives a restart and a new ordinary token, and writes
// nothing (deleteCredential, updateUserInformation, the preview command,
// makeCredential). A PIN change, a new PIN set from outside, and
// authenticatorReset void it.
func TestPersistentToken(t *testing.T) {
	eachProtocolWithPIN(t, func(t *testing.T, d *device, version int) {
		ctx := t.Context()
		mc := d.token(version, "1234", pinuv.PermissionMC, "a.example")
		id, _ := d.register(mcRequest("a.example", "alice", true, mc))
		mc = d.token(version, "1234", pinuv.PermissionMC, "b.example")
		d.register(mcRequest("b.example", "bob", true, mc))
		d.register(mcRequest("b.example", "carol", true, d.token(version, "1234", pinuv.PermissionMC, "b.example")))

		tok := d.pcmrToken(version, "1234")
		reads := func(when string, tok *client.Token) {
			t.Helper()
			cm := d.cm(tok)
			meta, err := cm.Metadata(ctx)
			if err != nil || meta.Existing != 3 {
				t.Fatalf("%s: getCredsMetadata: %+v, %v", when, meta, err)
			}
			if rps, err := cm.RPs(ctx); err != nil || len(rps) != 2 {
				t.Fatalf("%s: enumerateRPs: %d RPs, %v", when, len(rps), err)
			}
			h := sha256.Sum256([]byte("b.example"))
			if creds, err := cm.Credentials(ctx, h[:]); err != nil || len(creds) != 2 {
				t.Fatalf("%s: enumerateCredentials: %d, %v", when, len(creds), err)
			}
		}
		reads("fresh", tok)
		if again := d.pcmrToken(version, "1234"); !bytes.Equal(again.Value, tok.Value) {
			t.Fatal("a second pcmr request gave another token")
		}
		cm := d.token(version, "1234", pinuv.PermissionCM, "")
		reads("after an ordinary token", tok)
		if _, err := d.cm(cm).Metadata(ctx); err != nil {
			t.Fatalf("the ordinary token after the persistent one: %v", err)
		}
		d.restart()
		reads("after a restart", tok)

		for _, w := range []struct {
			what string
			err  error
		}{
			{"deleteCredential", d.cm(tok).DeleteCredential(ctx, id)},
			{"updateUserInformation", d.cm(tok).UpdateUser(ctx, id, client.UserEntity{ID: []byte("alice"), Name: "mallory"})},
			{"preview getCredsMetadata", func() error {
				_, err := (&client.CredentialManagement{Client: d.c, Token: tok, Preview: true}).Metadata(ctx)
				return err
			}()},
			{"makeCredential", func() error {
				_, err := d.c.MakeCredential(ctx, mcRequest("a.example", "dave", true, tok))
				return err
			}()},
		} {
			want(t, w.what+" with the persistent token", w.err, ctap2.CTAP2ErrPinAuthInvalid)
		}
		reads("after the refused writes", tok)

		if err := d.c.ChangePIN(ctx, version, "1234", "5678"); err != nil {
			t.Fatal(err)
		}
		_, err := d.cm(tok).Metadata(ctx)
		want(t, "the persistent token after changePIN", err, ctap2.CTAP2ErrPinAuthInvalid)
		next := d.pcmrToken(version, "5678")
		if bytes.Equal(next.Value, tok.Value) {
			t.Fatal("changePIN kept the persistent token")
		}
		reads("renewed", next)

		newPIN := "24680"
		if err := d.a.SetPINState(ctap2.PINChange{PIN: &newPIN}); err != nil {
			t.Fatal(err)
		}
		_, err = d.cm(next).Metadata(ctx)
		want(t, "the persistent token after a new PIN from outside", err, ctap2.CTAP2ErrPinAuthInvalid)
		last := d.pcmrToken(version, newPIN)
		if err := d.a.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := d.c.SetPIN(ctx, version, newPIN); err != nil {
			t.Fatal(err)
		}
		_, err = d.cm(last).Metadata(ctx)
		want(t, "the persistent token after reset", err, ctap2.CTAP2ErrPinAuthInvalid)
	})
}

// TestPersistentTokenPermissions: pcmr comes alone, through the PIN or
// built-in user verification; with other permissions it is
// CTAP2_ERR_UNAUTHORIZED_PERMISSION; an rpId does not bind it.
func TestPersistentTokenPermissions(t *testing.T) {
	d := newDevice(t, withUV)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	d.register(mcRequest("a.example", "alice", true, d.token(2, "1234", pinuv.PermissionMC, "a.example")))
	d.register(mcRequest("b.example", "bob", true, d.token(2, "1234", pinuv.PermissionMC, "b.example")))
	for _, tc := range []struct {
		name        string
		permissions pinuv.Permission
		rpID        string
		uv          bool
		want        ctap2.Status
	}{
		{"pcmr", pinuv.PermissionPCMR, "", false, ctap2.CTAP2OK},
		{"pcmr with an rpId", pinuv.PermissionPCMR, "a.example", false, ctap2.CTAP2OK},
		{"pcmr through built-in UV", pinuv.PermissionPCMR, "", true, ctap2.CTAP2OK},
		{"pcmr and cm", pinuv.PermissionPCMR | pinuv.PermissionCM, "", false, ctap2.CTAP2ErrUnauthorizedPermission},
		{"pcmr and mc", pinuv.PermissionPCMR | pinuv.PermissionMC, "a.example", false, ctap2.CTAP2ErrUnauthorizedPermission},
		{"pcmr and acfg through built-in UV", pinuv.PermissionPCMR | pinuv.PermissionACFG, "", true, ctap2.CTAP2ErrUnauthorizedPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tok *client.Token
			var err error
			if tc.uv {
				tok, err = d.c.GetPinUvAuthTokenUsingUV(ctx, 2, tc.permissions, tc.rpID)
			} else {
				tok, err = d.c.GetPinUvAuthTokenUsingPIN(ctx, 2, "1234", tc.permissions, tc.rpID)
			}
			want(t, "token", err, tc.want)
			if err != nil {
				return
			}
			if rps, err := d.cm(tok).RPs(ctx); err != nil || len(rps) != 2 {
				t.Fatalf("enumerateRPs: %d RPs, %v", len(rps), err)
			}
		})
	}
	if inf := d.info(); !inf.Options["perCredMgmtRO"] {
		t.Errorf("getInfo options %v lack perCredMgmtRO", inf.Options)
	}
}

// encIdentifier returns getInfo's encIdentifier (nil when absent) and what
// it decrypts to with token, as a platform decrypts it: iv || AES-128-CBC
// under HKDF-SHA-256(salt 32 zero bytes, token, "encIdentifier", 16).
func (d *device) encIdentifier(token []byte) (enc, id []byte) {
	d.t.Helper()
	status, resp := d.raw(0x04, nil)
	if status != ctap2.CTAP2OK {
		d.t.Fatalf("getInfo: %v", status)
	}
	raw, ok := resp[0x19]
	if !ok {
		return nil, nil
	}
	if err := cbor.Unmarshal(raw, &enc); err != nil || len(enc) != 32 {
		d.t.Fatalf("encIdentifier %x (%v), want 32 bytes", raw, err)
	}
	key, err := hkdf.Key(sha256.New, token, make([]byte, 32), "encIdentifier", 16)
	if err != nil {
		d.t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		d.t.Fatal(err)
	}
	id = make([]byte, 16)
	cipher.NewCBCDecrypter(block, enc[:16]).CryptBlocks(id, enc[16:])
	return enc, id
}

// TestEncIdentifier: getInfo's encIdentifier is there while a persistent
// token exists, encrypted afresh each time; the identifier under it stays
// the same across restarts and PIN changes (under the new token) and is
// new after authenticatorReset.
func TestEncIdentifier(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	if enc, _ := d.encIdentifier(nil); enc != nil {
		t.Fatal("encIdentifier before any persistent token")
	}
	tok := d.pcmrToken(1, "1234")
	enc, id := d.encIdentifier(tok.Value)
	if enc == nil {
		t.Fatal("no encIdentifier with a persistent token")
	}
	again, idAgain := d.encIdentifier(tok.Value)
	if bytes.Equal(again, enc) || !bytes.Equal(idAgain, id) {
		t.Fatalf("second getInfo: %x → %x, first %x → %x", again, idAgain, enc, id)
	}
	d.restart()
	if _, got := d.encIdentifier(tok.Value); !bytes.Equal(got, id) {
		t.Fatalf("after a restart the identifier is %x, was %x", got, id)
	}
	if err := d.c.ChangePIN(ctx, 2, "1234", "5678"); err != nil {
		t.Fatal(err)
	}
	if enc, _ := d.encIdentifier(nil); enc != nil {
		t.Fatal("encIdentifier after changePIN voided the persistent token")
	}
	next := d.pcmrToken(2, "5678")
	if _, got := d.encIdentifier(next.Value); !bytes.Equal(got, id) {
		t.Fatalf("under the new token the identifier is %x, was %x", got, id)
	}
	if _, got := d.encIdentifier(tok.Value); bytes.Equal(got, id) {
		t.Fatal("the voided token still decrypts the identifier")
	}
	if err := d.a.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	last := d.pcmrToken(2, "1234")
	if _, got := d.encIdentifier(last.Value); got == nil || bytes.Equal(got, id) {
		t.Fatalf("after reset the identifier is %x, was %x", got, id)
	}
}
