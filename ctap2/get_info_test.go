package ctap2

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/vauth/vauth/keystore"
)

func TestGetInfo(t *testing.T) {
	for _, tc := range []struct {
		name       string
		modify     func(*Config)
		algorithms []int
		transports []string
		firmware   uint64 // 0: absent
		maxMsg     int
		maxList    int
		builtInUV  bool // options uv, uvAcfg and preferredPlatformUvAttempts
		ep         bool // option ep
	}{
		{"defaults", func(*Config) {}, keystore.Preferred(), []string{"usb"}, 0, DefaultMaxMsgSize, DefaultMaxCredentialCountInList, false, false},
		{"configured", func(c *Config) {
			c.Algorithms = []int{keystore.EdDSA}
			c.Transports = []string{"usb", "internal"}
			c.FirmwareVersion = 0x010203
			c.MaxMsgSize = 2048
			c.MaxCredentialCountInList = 4
			c.MaxDiscoverable = 5
			c.UV = PresenceFunc(func(context.Context, PresenceRequest) error { return nil })
			c.EnterpriseAttestation = true
		}, []int{keystore.EdDSA}, []string{"usb", "internal"}, 0x010203, 2048, 4, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t, tc.modify)
			info := d.mustGetInfo()
			var versions, transports []string
			var aaguid []byte
			var options map[string]bool
			var maxMsgSize, maxList, maxIDLen int
			var algorithms []map[string]any
			mustUnmarshal(t, info[getInfoVersions], &versions)
			mustUnmarshal(t, info[getInfoAAGUID], &aaguid)
			mustUnmarshal(t, info[getInfoOptions], &options)
			mustUnmarshal(t, info[getInfoMaxMsgSize], &maxMsgSize)
			mustUnmarshal(t, info[getInfoMaxCredentialCountInList], &maxList)
			mustUnmarshal(t, info[getInfoMaxCredentialIDLength], &maxIDLen)
			mustUnmarshal(t, info[getInfoTransports], &transports)
			mustUnmarshal(t, info[getInfoAlgorithms], &algorithms)

			for _, v := range []string{"FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"} {
				if !slices.Contains(versions, v) {
					t.Errorf("versions %v lack %s", versions, v)
				}
			}
			if !bytes.Equal(aaguid, testAAGUID[:]) {
				t.Errorf("aaguid %x", aaguid)
			}
			want := map[string]bool{
				"rk": true, "up": true, "plat": false, "clientPin": false, "pinUvAuthToken": true,
				"credMgmt": true, "credentialMgmtPreview": true, "setMinPINLength": true,
				"makeCredUvNotRqd": true, "alwaysUv": false, "authnrCfg": true, "largeBlobs": true,
				"perCredMgmtRO": true,
			}
			if tc.builtInUV {
				want["uv"], want["uvAcfg"] = true, true
			}
			if tc.ep {
				want["ep"] = false
			}
			if !reflect.DeepEqual(options, want) {
				t.Errorf("options %v, want %v", options, want)
			}
			var protocols []int
			var forcePINChange bool
			var minPINLength, maxRPIDs int
			mustUnmarshal(t, info[getInfoPinUvAuthProtocols], &protocols)
			mustUnmarshal(t, info[getInfoForcePINChange], &forcePINChange)
			mustUnmarshal(t, info[getInfoMinPINLength], &minPINLength)
			mustUnmarshal(t, info[getInfoMaxRPIDsForSetMinPINLength], &maxRPIDs)
			if !slices.Equal(protocols, []int{2, 1}) || forcePINChange || minPINLength != 4 || maxRPIDs != MaxRPIDsForSetMinPINLength {
				t.Errorf("pinUvAuthProtocols %v, forcePINChange %v, minPINLength %d, maxRPIDsForSetMinPINLength %d", protocols, forcePINChange, minPINLength, maxRPIDs)
			}
			if raw, ok := info[getInfoPreferredPlatformUVAttempts]; ok != tc.builtInUV {
				t.Errorf("preferredPlatformUvAttempts present: %v", ok)
			} else if ok {
				var n int
				if mustUnmarshal(t, raw, &n); n != 1 {
					t.Errorf("preferredPlatformUvAttempts %d", n)
				}
			}
			if maxMsgSize != tc.maxMsg || maxList != tc.maxList || maxIDLen != d.store.MaxCredentialIDLength() {
				t.Errorf("maxMsgSize %d, maxCredentialCountInList %d, maxCredentialIdLength %d", maxMsgSize, maxList, maxIDLen)
			}
			if !reflect.DeepEqual(transports, tc.transports) {
				t.Errorf("transports %v", transports)
			}
			if len(algorithms) != len(tc.algorithms) {
				t.Fatalf("algorithms %v", algorithms)
			}
			for i, alg := range tc.algorithms {
				if algorithms[i]["type"] != "public-key" || algorithms[i]["alg"] != int64(alg) || len(algorithms[i]) != 2 {
					t.Errorf("algorithms[%d] = %v, want public-key %d", i, algorithms[i], alg)
				}
			}
			var extensions []string
			var maxLargeBlobArray, maxCredBlobLength int
			mustUnmarshal(t, info[getInfoExtensions], &extensions)
			mustUnmarshal(t, info[getInfoMaxSerializedLargeBlobArray], &maxLargeBlobArray)
			mustUnmarshal(t, info[getInfoMaxCredBlobLength], &maxCredBlobLength)
			if want := []string{"credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength", "hmac-secret-mc", "thirdPartyPayment"}; !slices.Equal(extensions, want) {
				t.Errorf("extensions %v, want %v", extensions, want)
			}
			if maxLargeBlobArray != DefaultMaxSerializedLargeBlobArray || maxCredBlobLength != keystore.MaxCredBlobLength {
				t.Errorf("maxSerializedLargeBlobArray %d, maxCredBlobLength %d", maxLargeBlobArray, maxCredBlobLength)
			}
			if raw, ok := info[getInfoFirmwareVersion]; ok != (tc.firmware != 0) {
				t.Errorf("firmwareVersion present: %v", ok)
			} else if ok {
				var fw uint64
				mustUnmarshal(t, raw, &fw)
				if fw != tc.firmware {
					t.Errorf("firmwareVersion %d", fw)
				}
			}

			before := remaining(t, d)
			rk := makeCredentialParams("example.com", []byte("u1"), "alice", true)
			if tc.builtInUV { // a protected authenticator makes discoverable credentials for verified users
				rk[int(makeCredentialOptions)] = map[string]any{"rk": true, "uv": true}
			}
			d.register(rk)
			d.register(rk)                                                              // replaces
			d.register(makeCredentialParams("example.com", []byte("u2"), "bob", false)) // not discoverable
			if got := remaining(t, d); got != before-1 {
				t.Errorf("remainingDiscoverableCredentials %d after one discoverable credential, want %d", got, before-1)
			}
		})
	}
}

// TestGetInfoEncoding: the response is canonical CBOR with integer keys in
// order, as CTAP2 requires.
func TestGetInfoEncoding(t *testing.T) {
	d := newTestDevice(t)
	resp := d.a.HandleCBOR(t.Context(), []byte{CmdGetInfo}, nil)
	var v map[int]any
	if err := cbor.Unmarshal(resp[1:], &v); err != nil {
		t.Fatal(err)
	}
	if again := encode(t, v); !bytes.Equal(again, resp[1:]) {
		t.Fatal("getInfo is not canonical CBOR")
	}
}
