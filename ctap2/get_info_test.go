package ctap2

import (
	"bytes"
	"reflect"
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
	}{
		{"defaults", func(*Config) {}, []int{keystore.ES256, keystore.EdDSA}, []string{"usb"}, 0, DefaultMaxMsgSize, DefaultMaxCredentialCountInList},
		{"configured", func(c *Config) {
			c.Algorithms = []int{keystore.EdDSA}
			c.Transports = []string{"usb", "internal"}
			c.FirmwareVersion = 0x010203
			c.MaxMsgSize = 2048
			c.MaxCredentialCountInList = 4
			c.MaxDiscoverable = 5
		}, []int{keystore.EdDSA}, []string{"usb", "internal"}, 0x010203, 2048, 4},
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

			if !reflect.DeepEqual(versions, []string{"FIDO_2_0"}) {
				t.Errorf("versions %v", versions)
			}
			if !bytes.Equal(aaguid, testAAGUID[:]) {
				t.Errorf("aaguid %x", aaguid)
			}
			if want := map[string]bool{"rk": true, "up": true, "plat": false}; !reflect.DeepEqual(options, want) {
				t.Errorf("options %v, want %v", options, want)
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
			for _, absent := range []int{0x02, 0x06} { // extensions, pinUvAuthProtocols
				if _, ok := info[absent]; ok {
					t.Errorf("key 0x%02x present", absent)
				}
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
			d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true))
			d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true)) // replaces
			d.register(makeCredentialParams("example.com", []byte("u2"), "bob", false))  // not discoverable
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
	resp := d.a.HandleCBOR(t.Context(), []byte{cmdGetInfo}, nil)
	var v map[int]any
	if err := cbor.Unmarshal(resp[1:], &v); err != nil {
		t.Fatal(err)
	}
	if again := encode(t, v); !bytes.Equal(again, resp[1:]) {
		t.Fatal("getInfo is not canonical CBOR")
	}
}
