package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
)

// hmacKeyBlobVersion marks the blob of the store's hmac-secret key: a
// keyedhash HMAC-SHA256 key.
const hmacKeyBlobVersion = 0x48

// maxHMACMessage is the most data one TPM2_HMAC takes (MAX_DIGEST_BUFFER,
// 1024 on every TPM the TCG's PC Client profile allows).
const maxHMACMessage = 1024

// hmacKeyTemplate is the public area of the hmac-secret key: an HMAC-SHA256
// keyedhash key with signingKeyAttributes (unrestricted); unique is empty
// in the creation template and the key's unique digest otherwise.
func hmacKeyTemplate(unique tpm2.TPM2BDigest) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgKeyedHash,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: signingKeyAttributes(false),
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{
				Scheme:  tpm2.TPMAlgHMAC,
				Details: tpm2.NewTPMUSchemeKeyedHash(tpm2.TPMAlgHMAC, &tpm2.TPMSSchemeHMAC{HashAlg: tpm2.TPMAlgSHA256}),
			},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &unique),
	}
}

// NewHMACKey implements soft.HMACEngine: the store's hmac-secret key, made
// once per store by TPM2_CreateLoaded under the storage primary and left
// loaded. The blob is a version byte, the key's TPM2B_PRIVATE (which only
// this TPM can load) and its unique digest.
func (e *Engine) NewHMACKey() ([]byte, error) {
	if err := e.lock(); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	h, priv, pub, err := e.createLoaded(hmacKeyTemplate(tpm2.TPM2BDigest{}))
	if err != nil {
		return nil, tpmError(e.tpm, "create hmac-secret key", err)
	}
	unique, err := pub.Unique.KeyedHash()
	if err == nil && !bytes.Equal(tpm2.Marshal(hmacKeyTemplate(*unique)), tpm2.Marshal(*pub)) {
		err = errors.New("the TPM changed the template")
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("tpm: hmac-secret key: %w", err), e.flush(h.Handle, "flush hmac-secret key"))
	}
	blob := []byte{hmacKeyBlobVersion}
	blob = append(blob, tpm2.Marshal(priv)...)
	blob = append(blob, tpm2.Marshal(*unique)...)
	e.cache(blob, h)
	return blob, nil
}

// HMAC implements soft.HMACEngine with TPM2_HMAC: HMAC-SHA256 under the
// key of blob, computed inside the TPM. The result comes back encrypted on
// the bus (a session salted with the storage primary), since it is a
// credential's CredRandom.
func (e *Engine) HMAC(blob, msg []byte) ([]byte, error) {
	if len(msg) > maxHMACMessage {
		return nil, fmt.Errorf("tpm: HMAC of %d bytes, at most %d", len(msg), maxHMACMessage)
	}
	if err := e.lock(); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	key, err := e.hmacKey(blob)
	if err != nil {
		return nil, err
	}
	rsp, err := tpm2.Hmac{
		Handle: tpm2.AuthHandle{
			Handle: key.Handle,
			Name:   key.Name,
			Auth:   e.paramSession(tpm2.AESEncryption(128, tpm2.EncryptOut)),
		},
		Buffer:  tpm2.TPM2BMaxBuffer{Buffer: msg},
		HashAlg: tpm2.TPMAlgSHA256,
	}.Execute(e.tpm)
	if err != nil {
		return nil, tpmError(e.tpm, "HMAC", err)
	}
	return rsp.OutHMAC.Buffer, nil
}

// hmacKey returns the loaded hmac-secret key of blob, from the cache or by
// TPM2_Load. e.mu is held.
func (e *Engine) hmacKey(blob []byte) (tpm2.NamedHandle, error) {
	if el, ok := e.loaded[string(blob)]; ok {
		e.lru.MoveToFront(el)
		return el.Value.(*loadedKey).handle, nil
	}
	in := cryptobyte.String(blob)
	var version uint8
	var priv, unique []byte
	if !in.ReadUint8(&version) || version != hmacKeyBlobVersion ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&priv)) ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&unique)) || !in.Empty() {
		return tpm2.NamedHandle{}, errors.New("tpm: bad hmac-secret key blob")
	}
	h, err := e.load(tpm2.TPM2BPrivate{Buffer: priv}, hmacKeyTemplate(tpm2.TPM2BDigest{Buffer: unique}))
	if err != nil {
		return tpm2.NamedHandle{}, tpmError(e.tpm, "load hmac-secret key (was the store made with another TPM, or was the TPM cleared?)", err)
	}
	e.cache(blob, h)
	return h, nil
}
