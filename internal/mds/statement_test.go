package mds_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/mds"
	"github.com/vauth/vauth/keystore"
)

func TestStatement(t *testing.T) {
	root := &x509.Certificate{Raw: []byte{1, 2, 3}}
	ios := attestation.Presets[1]
	info := func(versions []string, options map[string]bool, algs ...int) *client.Info {
		inf := &client.Info{Versions: versions, AAGUID: attestation.DefaultAAGUID[:], Options: options, MinPINLength: 6}
		for _, a := range algs {
			inf.Algorithms = append(inf.Algorithms, client.Algorithm{Type: "public-key", Alg: a})
		}
		return inf
	}
	pin := map[string]bool{"clientPin": false, "rk": true}
	tests := []struct {
		name            string
		c               mds.Config
		aaguid          [16]byte
		wantTypes       []string
		wantRoots       int
		wantKeys        []string
		wantAlgs        []string
		wantUpv         []mds.Version
		wantUV          []string // the first method of each alternative
		wantDescription string
	}{
		{
			name: "packed soft", c: mds.Config{Info: info([]string{"U2F_V2", "FIDO_2_0", "FIDO_2_1"}, pin, keystore.ES256, keystore.EdDSA), Attestation: attestation.KindPacked, Keystore: "soft", Root: root},
			wantTypes: []string{"basic_full"}, wantRoots: 1, wantKeys: []string{"software"},
			wantAlgs: []string{"secp256r1_ecdsa_sha256_der", "ed25519_eddsa_sha512_raw"}, wantUpv: []mds.Version{{1, 0}, {1, 1}},
			wantUV: []string{"presence_internal", "passcode_external"}, wantDescription: "vauth software FIDO2 authenticator",
		},
		{
			name: "tpm", c: mds.Config{Info: info([]string{"FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}, map[string]bool{"clientPin": true, "uv": true}, keystore.ES256, keystore.RS256), Attestation: attestation.KindTPM, Keystore: "tpm", Root: root},
			wantTypes: []string{"attca"}, wantRoots: 1, wantKeys: []string{"hardware"},
			wantAlgs: []string{"secp256r1_ecdsa_sha256_der", "rsa_emsa_pkcs1_sha256_raw"}, wantUpv: []mds.Version{{1, 0}, {1, 1}},
			wantUV: []string{"presence_internal", "passcode_external", "passcode_internal"}, wantDescription: "vauth software FIDO2 authenticator (keys in the TPM)",
		},
		{
			name: "self, ctap2.0", c: mds.Config{Info: info([]string{"U2F_V2", "FIDO_2_0"}, nil, keystore.ES384, keystore.PS256, keystore.ES512, keystore.ES256K), Attestation: attestation.KindSelf, Keystore: "soft", Root: root},
			wantTypes: []string{"basic_surrogate"}, wantKeys: []string{"software"},
			wantAlgs: []string{"secp384r1_ecdsa_sha384_raw", "rsassa_pss_sha256_raw", "secp521r1_ecdsa_sha512_raw", "secp256k1_ecdsa_sha256_der"}, wantUpv: []mds.Version{{1, 0}},
			wantUV: []string{"presence_internal"}, wantDescription: "vauth software FIDO2 authenticator",
		},
		{
			name: "none, preset AAGUID", c: mds.Config{Info: info([]string{"FIDO_2_1"}, pin, keystore.ES256), Attestation: attestation.KindNone, Keystore: "soft"}, aaguid: ios.AAGUID,
			wantTypes: []string{"none"}, wantKeys: []string{"software"}, wantAlgs: []string{"secp256r1_ecdsa_sha256_der"}, wantUpv: []mds.Version{{1, 1}},
			wantUV: []string{"presence_internal", "passcode_external"}, wantDescription: "vauth software FIDO2 authenticator emulating the AAGUID of Microsoft Authenticator (iOS) for testing (not that product)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := attestation.DefaultAAGUID
			if tc.aaguid != ([16]byte{}) {
				want = tc.aaguid
				tc.c.Info.AAGUID = want[:]
			}
			s, err := mds.New(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			var uv []string
			for _, alt := range s.UserVerificationDetails {
				uv = append(uv, alt[0].Method)
			}
			switch {
			case s.AAGUID != attestation.FormatAAGUID(want), s.ProtocolFamily != "fido2", s.Schema != 3, s.AuthenticatorVersion != 1:
				t.Errorf("identity %q %q schema %d version %d", s.AAGUID, s.ProtocolFamily, s.Schema, s.AuthenticatorVersion)
			case !slices.Equal(s.AttestationTypes, tc.wantTypes):
				t.Errorf("attestationTypes %v; want %v", s.AttestationTypes, tc.wantTypes)
			case len(s.AttestationRootCertificates) != tc.wantRoots:
				t.Errorf("attestationRootCertificates %v; want %d", s.AttestationRootCertificates, tc.wantRoots)
			case tc.wantRoots == 1 && s.AttestationRootCertificates[0] != base64.StdEncoding.EncodeToString(root.Raw):
				t.Errorf("root %s; want the CA's DER in base64", s.AttestationRootCertificates[0])
			case !slices.Equal(s.KeyProtection, tc.wantKeys), !slices.Equal(s.MatcherProtection, []string{"software"}):
				t.Errorf("keyProtection %v, matcherProtection %v", s.KeyProtection, s.MatcherProtection)
			case !slices.Equal(s.AuthenticationAlgorithms, tc.wantAlgs), !slices.Equal(s.PublicKeyAlgAndEncodings, []string{"cose"}):
				t.Errorf("algorithms %v %v; want %v", s.AuthenticationAlgorithms, s.PublicKeyAlgAndEncodings, tc.wantAlgs)
			case !slices.Equal(s.Upv, tc.wantUpv):
				t.Errorf("upv %v; want %v", s.Upv, tc.wantUpv)
			case !slices.Equal(uv, tc.wantUV):
				t.Errorf("userVerificationDetails %v; want %v", uv, tc.wantUV)
			case s.Description != tc.wantDescription:
				t.Errorf("description %q; want %q", s.Description, tc.wantDescription)
			case s.AuthenticatorGetInfo.AAGUID != strings.ReplaceAll(attestation.FormatAAGUID(want), "-", ""):
				t.Errorf("getInfo aaguid %q", s.AuthenticatorGetInfo.AAGUID)
			}
			if len(uv) > 1 && uv[1] == "passcode_external" && s.UserVerificationDetails[1][0].CaDesc.MinLength != 6 {
				t.Errorf("PIN caDesc %+v; want minLength 6 from getInfo", s.UserVerificationDetails[1][0].CaDesc)
			}
		})
	}
}

// A U2F-only key has no FIDO2 statement; a daemon's statement follows its
// configuration (--algorithms, --attestation).
func TestForDaemon(t *testing.T) {
	d := openSoftWith(t, daemon.Options{Profile: ctap2.ProfileU2F})
	if _, err := mds.ForDaemon(context.Background(), d); !errors.Is(err, mds.ErrNoMetadata) {
		t.Fatalf("U2F profile: %v; want ErrNoMetadata", err)
	}
	if _, err := mds.BLOB(context.Background(), d, mds.Settings{}, time.Now()); !errors.Is(err, mds.ErrNoMetadata) {
		t.Fatalf("U2F profile BLOB: %v; want ErrNoMetadata", err)
	}
	d2 := openSoftWith(t, daemon.Options{Attestation: attestation.KindNone, Algorithms: []int{keystore.EdDSA}})
	s, err := mds.ForDaemon(context.Background(), d2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.AuthenticationAlgorithms, []string{"ed25519_eddsa_sha512_raw"}) || !slices.Equal(s.AttestationTypes, []string{"none"}) || len(s.AttestationRootCertificates) != 0 {
		t.Fatalf("statement of --algorithms EdDSA --attestation none: %+v", s)
	}
	if s.AuthenticatorGetInfo.RemainingDiscoverableCredentials != nil {
		t.Errorf("statement carries this device's room for passkeys: %d", *s.AuthenticatorGetInfo.RemainingDiscoverableCredentials)
	}
	if _, err := d2.Keystore.GetBlob("attestation/ca.pem"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("a statement without attestation made the attestation CA: %v", err)
	}
}

// The BLOB's number stays while its content does and goes up by one when
// it changes (MDS3, Metadata BLOB Payload: no).
func TestBLOBSerial(t *testing.T) {
	d := openSoft(t, attestation.KindPacked, attestation.DefaultAAGUID)
	root := rootOf(t, d)
	no := func(s mds.Settings) int {
		t.Helper()
		blob, err := mds.BLOB(context.Background(), d, s, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		md, err := loadBLOB(t, blob, root)
		if err != nil {
			t.Fatal(err)
		}
		return md.Parsed.Number
	}
	revoked := mds.Settings{Status: map[string]string{"vauth": "REVOKED"}}
	for i, tc := range []struct {
		s    mds.Settings
		want int
	}{{mds.Settings{}, 1}, {mds.Settings{}, 1}, {revoked, 2}, {revoked, 2}, {mds.Settings{}, 3}} {
		if got := no(tc.s); got != tc.want {
			t.Fatalf("BLOB %d: no %d; want %d", i, got, tc.want)
		}
	}
}
