package mds

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/keystore"
)

// Blobs of the store that hold the BLOB root and the BLOB's serial number.
const (
	blobRoot   = "metadata/root.pem"
	blobSerial = "metadata/serial"
)

const (
	rootCommonName   = "vauth Metadata BLOB Root CA"
	signerCommonName = "vauth Metadata BLOB Signer"
	// signerValidity: a BLOB is signed by a certificate made for it, valid
	// long enough for a relying party that caches the BLOB.
	signerValidity = 365 * 24 * time.Hour
	// nextUpdate: a relying party under test should fetch statuses again
	// soon (MDS3 nextUpdate is a date).
	nextUpdateAfter = 24 * time.Hour
	dateOnly        = time.DateOnly
	signerRSABits   = 2048
)

// Statuses are the AuthenticatorStatus values (MDS3 AuthenticatorStatus enum) a status report
// can carry.
var Statuses = []string{
	"NOT_FIDO_CERTIFIED", "FIDO_CERTIFIED", "USER_VERIFICATION_BYPASS", "ATTESTATION_KEY_COMPROMISE",
	"USER_KEY_REMOTE_COMPROMISE", "USER_KEY_PHYSICAL_COMPROMISE", "UPDATE_AVAILABLE", "REVOKED",
	"SELF_ASSERTION_SUBMITTED", "FIDO_CERTIFIED_L1", "FIDO_CERTIFIED_L1plus", "FIDO_CERTIFIED_L2",
	"FIDO_CERTIFIED_L2plus", "FIDO_CERTIFIED_L3", "FIDO_CERTIFIED_L3plus",
}

// DefaultStatus is an entry's status unless set: vauth is certified by
// nobody, and relying parties accept uncertified authenticators unless
// they ask for a certification level.
const DefaultStatus = "NOT_FIDO_CERTIFIED"

// Settings choose what a BLOB holds.
type Settings struct {
	// AAGUIDs are the entries (UUIDs or preset names); none: the
	// authenticator's own AAGUID.
	AAGUIDs []string `json:"aaguids,omitempty"`
	// Status is the status of entries by AAGUID (default DefaultStatus);
	// each must be one of AAGUIDs.
	Status map[string]string `json:"status,omitempty"`
}

// ParseStatus reads AAGUID=STATUS (the AAGUID a UUID or a preset name) into
// s.Status.
func (s *Settings) ParseStatus(arg string) error {
	a, status, ok := strings.Cut(arg, "=")
	if !ok {
		return fmt.Errorf("status %q: want AAGUID=STATUS", arg)
	}
	if _, err := attestation.ResolveAAGUID(a); err != nil {
		return err
	}
	if err := checkStatus(status); err != nil {
		return err
	}
	if s.Status == nil {
		s.Status = map[string]string{}
	}
	s.Status[a] = status
	return nil
}

func checkStatus(status string) error {
	if !slices.Contains(Statuses, status) {
		return fmt.Errorf("status %q: want one of %s", status, strings.Join(Statuses, ", "))
	}
	return nil
}

// entries resolves the settings to AAGUIDs in order and their statuses.
func (s Settings) entries(own [16]byte) ([][16]byte, map[[16]byte]string, error) {
	list := [][16]byte{own}
	if len(s.AAGUIDs) > 0 {
		list = nil
		for _, a := range s.AAGUIDs {
			aaguid, err := attestation.ResolveAAGUID(a)
			if err != nil {
				return nil, nil, err
			}
			if !slices.Contains(list, aaguid) {
				list = append(list, aaguid)
			}
		}
	}
	statuses := map[[16]byte]string{}
	for a, status := range s.Status {
		aaguid, err := attestation.ResolveAAGUID(a)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(list, aaguid) {
			return nil, nil, fmt.Errorf("status for %s: the BLOB has no entry for it (add it to the AAGUIDs)", a)
		}
		if err := checkStatus(status); err != nil {
			return nil, nil, err
		}
		statuses[aaguid] = status
	}
	return list, statuses, nil
}

// Payload is the metadata BLOB payload (MDS3, Metadata BLOB Payload: no).
type Payload struct {
	LegalHeader string  `json:"legalHeader"`
	No          uint64  `json:"no"`
	NextUpdate  string  `json:"nextUpdate"`
	Entries     []Entry `json:"entries"`
}

// Entry is a MetadataBLOBPayloadEntry (MDS3).
type Entry struct {
	AAGUID                 string         `json:"aaguid"`
	MetadataStatement      *Statement     `json:"metadataStatement"`
	StatusReports          []StatusReport `json:"statusReports"`
	TimeOfLastStatusChange string         `json:"timeOfLastStatusChange"`
}

// StatusReport is a StatusReport (MDS3).
type StatusReport struct {
	Status        string `json:"status"`
	EffectiveDate string `json:"effectiveDate,omitempty"`
}

// Root returns the BLOB root CA kept in store, made on first use: what a
// relying party trusts for vauth's BLOBs, as it trusts the FIDO Alliance's
// root for the real MDS.
func Root(store attestation.BlobStore) (*attestation.CA, error) {
	return attestation.LoadOrCreateRoot(store, blobRoot, rootCommonName)
}

// BLOB returns the metadata BLOB of d for the settings: a JWS (compact
// serialisation, RS256) whose x5c header holds a signing certificate issued
// by Root, then Root itself (MDS3 "Metadata BLOB"; the root is included because
// consumers such as go-webauthn verify the x5c as a chain that reaches the
// trust anchor).
func BLOB(ctx context.Context, d *daemon.Daemon, s Settings, now time.Time) ([]byte, error) {
	stmt, err := ForDaemon(ctx, d)
	if err != nil {
		return nil, err
	}
	own, err := attestation.ParseAAGUID(stmt.AAGUID)
	if err != nil {
		return nil, err
	}
	list, statuses, err := s.entries(own)
	if err != nil {
		return nil, err
	}
	today := now.UTC().Format(dateOnly)
	p := Payload{LegalHeader: legalHeader, NextUpdate: now.UTC().Add(nextUpdateAfter).Format(dateOnly)}
	for _, aaguid := range list {
		status, ok := statuses[aaguid]
		if !ok {
			status = DefaultStatus
		}
		p.Entries = append(p.Entries, Entry{
			AAGUID:                 attestation.FormatAAGUID(aaguid),
			MetadataStatement:      stmt.withAAGUID(aaguid, d.Keystore.Backend()),
			StatusReports:          []StatusReport{{Status: status, EffectiveDate: today}},
			TimeOfLastStatusChange: today,
		})
	}
	if p.No, err = serial(d.Keystore, p); err != nil {
		return nil, err
	}
	root, err := Root(d.Keystore)
	if err != nil {
		return nil, err
	}
	return sign(p, root, now)
}

// serial is the BLOB's number: the same as the last BLOB's when the
// content is the same, else one more (MDS3 MetadataBLOBPayload: no is incremented by one
// whenever the content changes), kept in store.
func serial(store keystore.Keystore, p Payload) (uint64, error) {
	serialMu.Lock() // concurrent BLOBs (control API requests) read and bump it in turn
	defer serialMu.Unlock()
	p.No = 0
	content, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(content)
	last, err := store.GetBlob(blobSerial)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		last = nil
	case err != nil:
		return 0, fmt.Errorf("mds: BLOB serial: %w", err)
	}
	var no uint64
	if len(last) == 8+len(sum) {
		no = binary.BigEndian.Uint64(last)
		if bytes.Equal(last[8:], sum[:]) {
			return no, nil
		}
	}
	no++
	if err := store.PutBlob(blobSerial, append(binary.BigEndian.AppendUint64(nil, no), sum[:]...)); err != nil {
		return 0, fmt.Errorf("mds: BLOB serial: %w", err)
	}
	return no, nil
}

var serialMu sync.Mutex

// claims is the payload as golang-jwt signs it; the registered claims
// stay empty (the MDS payload has none).
type claims struct {
	Payload
	jwt.RegisteredClaims
}

// sign makes the JWS of p with a new RSA-2048 signing key, certified by
// root. RS256, as the FIDO MDS signs its BLOB: python-fido2's mds3 reads an
// ES256 JWS signature as DER where JWS has r||s (RFC 7518 §3.4), and so
// verifies RS256 BLOBs only.
func sign(p Payload, root *attestation.CA, now time.Time) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, signerRSABits)
	if err != nil {
		return nil, err
	}
	der, err := root.Issue(&x509.Certificate{
		Subject:   pkix.Name{Organization: []string{"vauth"}, CommonName: signerCommonName},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(signerValidity),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("mds: BLOB signing certificate: %w", err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims{Payload: p})
	// x5c members are standard base64 DER (RFC 7515 §4.1.6).
	tok.Header["x5c"] = []string{base64.StdEncoding.EncodeToString(der), base64.StdEncoding.EncodeToString(root.Certificate().Raw)}
	s, err := tok.SignedString(key)
	if err != nil {
		return nil, fmt.Errorf("mds: signing the BLOB: %w", err)
	}
	return []byte(s), nil
}

// Check reports whether the settings name valid AAGUIDs and statuses, for
// an authenticator whose own AAGUID is own.
func (s Settings) Check(own [16]byte) error {
	_, _, err := s.entries(own)
	return err
}
