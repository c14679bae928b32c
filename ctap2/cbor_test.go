package ctap2

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/vauth/vauth/keystore"
)

// typeExamples are values of every CBOR type, to put where another type
// belongs.
var typeExamples = []struct {
	name string
	v    any
}{
	{"unsigned", 42},
	{"negative", -42},
	{"bytes", []byte{0x42}},
	{"text", "42"},
	{"array", []any{42}},
	{"map", map[int]any{42: 42}},
	{"bool", true},
	{"null", nil},
}

// cborKind is the CBOR type of a test value; both integer types count as
// one, as integer parameters may be either sign.
func cborKind(v any) string {
	switch v.(type) {
	case int, int64, uint64:
		return "integer"
	case []byte:
		return "bytes"
	case string:
		return "text"
	case []any:
		return "array"
	case map[int]any, map[string]any:
		return "map"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	panic(fmt.Sprintf("test value of type %T", v))
}

// clone copies a test request deeply.
func clone(v any) any {
	switch x := v.(type) {
	case map[int]any:
		m := make(map[int]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = clone(e)
		}
		return s
	case []byte:
		return slices.Clone(x)
	}
	return v
}

// cborRaw is CBOR written by hand, embedded as it is.
type cborRaw = cbor.RawMessage

type paramsCase struct {
	name   string
	params map[int]any
}

// badTypeCases replaces, one at a time, every parameter of full, every
// member of its maps (also inside arrays), and adds to its arrays an element
// of every other CBOR type.
func badTypeCases(full map[int]any) []paramsCase {
	var cases []paramsCase
	keys := make([]int, 0, len(full))
	for k := range full {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := full[k]
		for _, ex := range typeExamples {
			if cborKind(ex.v) == cborKind(v) {
				continue
			}
			p := clone(full).(map[int]any)
			p[k] = ex.v
			cases = append(cases, paramsCase{fmt.Sprintf("key %d as %s", k, ex.name), p})
		}
		switch x := v.(type) {
		case map[string]any:
			for _, inner := range innerCases(x) {
				p := clone(full).(map[int]any)
				p[k] = inner.v
				cases = append(cases, paramsCase{fmt.Sprintf("key %d: %s", k, inner.name), p})
			}
		case []any:
			for _, ex := range typeExamples {
				if cborKind(ex.v) == cborKind(x[0]) {
					continue
				}
				p := clone(full).(map[int]any)
				p[k] = append(clone(x).([]any), ex.v)
				cases = append(cases, paramsCase{fmt.Sprintf("key %d: element as %s", k, ex.name), p})
			}
			if m, ok := x[0].(map[string]any); ok {
				for _, inner := range innerCases(m) {
					p := clone(full).(map[int]any)
					p[k] = []any{inner.v}
					cases = append(cases, paramsCase{fmt.Sprintf("key %d: element %s", k, inner.name), p})
				}
			}
		}
	}
	return cases
}

// innerCases replaces each member of a map with values of other types.
func innerCases(m map[string]any) []struct {
	name string
	v    map[string]any
} {
	var out []struct {
		name string
		v    map[string]any
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, ex := range typeExamples {
			if cborKind(ex.v) == cborKind(m[n]) {
				continue
			}
			c := clone(m).(map[string]any)
			c[n] = ex.v
			out = append(out, struct {
				name string
				v    map[string]any
			}{fmt.Sprintf("%s as %s", n, ex.name), c})
		}
	}
	return out
}

// fullMakeCredential has every makeCredential parameter and member, with
// the right types (it fails for other reasons: pinUvAuthParam).
func fullMakeCredential() map[int]any {
	return map[int]any{
		int(makeCredentialClientDataHash):        clientDataHash,
		int(makeCredentialRP):                    map[string]any{"id": "example.com", "name": "Example", "icon": "https://example.com/i.png"},
		int(makeCredentialUser):                  map[string]any{"id": []byte{1, 2, 3}, "name": "alice", "displayName": "Alice", "icon": "https://example.com/a.png"},
		int(makeCredentialPubKeyCredParams):      []any{map[string]any{"type": "public-key", "alg": keystore.ES256}},
		int(makeCredentialExcludeList):           []any{map[string]any{"type": "public-key", "id": []byte{9, 9}, "transports": []any{"usb"}}},
		int(makeCredentialExtensions):            map[string]any{},
		int(makeCredentialOptions):               map[string]any{"rk": false, "up": true, "uv": false},
		int(makeCredentialPinUvAuthParam):        []byte{},
		int(makeCredentialPinUvAuthProtocol):     1,
		int(makeCredentialEnterpriseAttestation): 1,
	}
}

func fullGetAssertion() map[int]any {
	return map[int]any{
		int(getAssertionRPID):              "example.com",
		int(getAssertionClientDataHash):    clientDataHash,
		int(getAssertionAllowList):         []any{map[string]any{"type": "public-key", "id": []byte{9, 9}, "transports": []any{"usb"}}},
		int(getAssertionExtensions):        map[string]any{},
		int(getAssertionOptions):           map[string]any{"up": true, "uv": false},
		int(getAssertionPinUvAuthParam):    []byte{},
		int(getAssertionPinUvAuthProtocol): 1,
	}
}

// TestWrongTypes puts a value of the wrong CBOR type at every level of both
// requests: always CTAP2_ERR_CBOR_UNEXPECTED_TYPE, before anything else
// happens, and the device keeps serving.
func TestWrongTypes(t *testing.T) {
	d := newTestDevice(t)
	for _, tc := range []struct {
		cmd  byte
		full map[int]any
	}{
		{CmdMakeCredential, fullMakeCredential()},
		{CmdGetAssertion, fullGetAssertion()},
	} {
		cases := badTypeCases(tc.full)
		if len(cases) < 50 {
			t.Fatalf("only %d cases for command 0x%02x", len(cases), tc.cmd)
		}
		for _, c := range cases {
			status, _ := d.call(tc.cmd, c.params)
			if status != CTAP2ErrCBORUnexpectedType {
				t.Errorf("command 0x%02x, %s: %v, want CTAP2_ERR_CBOR_UNEXPECTED_TYPE", tc.cmd, c.name, status)
			}
		}
	}
	if asked := d.presence.asked(); len(asked) != 0 {
		t.Errorf("presence asked %d times for malformed requests", len(asked))
	}
	d.mustGetInfo()
}

// TestMissingParameters removes each required parameter and member.
func TestMissingParameters(t *testing.T) {
	d := newTestDevice(t)
	mc := func(edit func(p map[int]any)) map[int]any {
		p := makeCredentialParams("example.com", []byte{1}, "alice", false)
		p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key", "id": []byte{9}}}
		edit(p)
		return p
	}
	ga := func(edit func(p map[int]any)) map[int]any {
		p := getAssertionParams("example.com", []byte{9})
		edit(p)
		return p
	}
	for _, tc := range []struct {
		name   string
		cmd    byte
		params map[int]any
	}{
		{"makeCredential clientDataHash", CmdMakeCredential, mc(func(p map[int]any) { delete(p, int(makeCredentialClientDataHash)) })},
		{"makeCredential rp", CmdMakeCredential, mc(func(p map[int]any) { delete(p, int(makeCredentialRP)) })},
		{"makeCredential user", CmdMakeCredential, mc(func(p map[int]any) { delete(p, int(makeCredentialUser)) })},
		{"makeCredential pubKeyCredParams", CmdMakeCredential, mc(func(p map[int]any) { delete(p, int(makeCredentialPubKeyCredParams)) })},
		{"makeCredential rp.id", CmdMakeCredential, mc(func(p map[int]any) { p[int(makeCredentialRP)] = map[string]any{"name": "x"} })},
		{"makeCredential user.id", CmdMakeCredential, mc(func(p map[int]any) { p[int(makeCredentialUser)] = map[string]any{"name": "x"} })},
		{"makeCredential pubKeyCredParams[0].type", CmdMakeCredential, mc(func(p map[int]any) {
			p[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"alg": -7}}
		})},
		{"makeCredential pubKeyCredParams[0].alg", CmdMakeCredential, mc(func(p map[int]any) {
			p[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"type": "public-key"}}
		})},
		{"makeCredential excludeList[0].id", CmdMakeCredential, mc(func(p map[int]any) {
			p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key"}}
		})},
		{"makeCredential excludeList[0].type", CmdMakeCredential, mc(func(p map[int]any) {
			p[int(makeCredentialExcludeList)] = []any{map[string]any{"id": []byte{1}}}
		})},
		{"makeCredential no parameters", CmdMakeCredential, nil},
		{"getAssertion rpId", CmdGetAssertion, ga(func(p map[int]any) { delete(p, int(getAssertionRPID)) })},
		{"getAssertion clientDataHash", CmdGetAssertion, ga(func(p map[int]any) { delete(p, int(getAssertionClientDataHash)) })},
		{"getAssertion allowList[0].id", CmdGetAssertion, ga(func(p map[int]any) {
			p[int(getAssertionAllowList)] = []any{map[string]any{"type": "public-key"}}
		})},
		{"getAssertion allowList[0].type", CmdGetAssertion, ga(func(p map[int]any) {
			p[int(getAssertionAllowList)] = []any{map[string]any{"id": []byte{1}}}
		})},
		{"getAssertion no parameters", CmdGetAssertion, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status Status
			if tc.params == nil {
				status, _ = d.call(tc.cmd, nil)
			} else {
				status, _ = d.call(tc.cmd, tc.params)
			}
			if status != CTAP2ErrMissingParameter {
				t.Errorf("%v, want CTAP2_ERR_MISSING_PARAMETER", status)
			}
			d.mustGetInfo()
		})
	}
	if asked := d.presence.asked(); len(asked) != 0 {
		t.Errorf("presence asked %d times for incomplete requests", len(asked))
	}
}

// TestMalformedCBOR sends requests that are not CBOR, not a map, too deep,
// too big, or otherwise broken.
func TestMalformedCBOR(t *testing.T) {
	d := newTestDevice(t)
	valid := encode(t, makeCredentialParams("example.com", []byte{1}, "alice", false))
	withParam := func(key int, v any) []byte {
		p := makeCredentialParams("example.com", []byte{1}, "alice", false)
		p[key] = v
		return encode(t, p)
	}
	manyInts := make([]any, 2000)
	for i := range manyInts {
		manyInts[i] = 1
	}
	longExcludeList := make([]any, DefaultMaxCredentialCountInList+1)
	for i := range longExcludeList {
		longExcludeList[i] = map[string]any{"type": "public-key", "id": []byte{byte(i)}}
	}
	// {1: h'', 2: {"id": "x", "name": "\xff\xfe"}}: invalid UTF-8.
	badUTF8 := []byte{0xa2, 0x01, 0x40, 0x02, 0xa2, 0x62, 'i', 'd', 0x61, 'x', 0x64, 'n', 'a', 'm', 'e', 0x62, 0xff, 0xfe}
	for _, tc := range []struct {
		name   string
		cmd    byte
		params []byte
		want   Status
	}{
		{"not CBOR", CmdMakeCredential, []byte{0xff}, CTAP2ErrInvalidCBOR},
		{"truncated", CmdMakeCredential, valid[:len(valid)-1], CTAP2ErrInvalidCBOR},
		{"trailing bytes", CmdMakeCredential, append(slices.Clone(valid), 0x00), CTAP2ErrInvalidCBOR},
		{"two maps", CmdGetAssertion, append(encode(t, getAssertionParams("a")), 0xa0), CTAP2ErrInvalidCBOR},
		{"array", CmdMakeCredential, encode(t, []any{1, 2}), CTAP2ErrCBORUnexpectedType},
		{"unsigned", CmdMakeCredential, []byte{0x01}, CTAP2ErrCBORUnexpectedType},
		{"negative", CmdMakeCredential, []byte{0x20}, CTAP2ErrCBORUnexpectedType},
		{"bytes", CmdGetAssertion, []byte{0x41, 0x00}, CTAP2ErrCBORUnexpectedType},
		{"text", CmdGetAssertion, []byte{0x61, 'a'}, CTAP2ErrCBORUnexpectedType},
		{"true", CmdGetAssertion, []byte{0xf5}, CTAP2ErrCBORUnexpectedType},
		{"null", CmdGetAssertion, []byte{0xf6}, CTAP2ErrCBORUnexpectedType},
		{"duplicate key", CmdGetAssertion, []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}, CTAP2ErrInvalidCBOR},
		{"indefinite-length map", CmdGetAssertion, []byte{0xbf, 0x01, 0x61, 'a', 0xff}, CTAP2ErrInvalidCBOR},
		{"indefinite-length byte string", CmdGetAssertion, []byte{0xa2, 0x01, 0x61, 'a', 0x02, 0x5f, 0x41, 0x00, 0xff}, CTAP2ErrInvalidCBOR},
		{"tag", CmdGetAssertion, []byte{0xc0, 0xa0}, CTAP2ErrInvalidCBOR},
		{"nested five deep", CmdMakeCredential, withParam(int(makeCredentialExcludeList), []any{
			map[string]any{"type": "public-key", "id": []byte{1}, "transports": []any{"usb", []any{42}}},
		}), CTAP2ErrInvalidCBOR},
		{"huge array header", CmdMakeCredential, []byte{0xa1, 0x04, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, CTAP2ErrInvalidCBOR},
		{"huge map header", CmdMakeCredential, []byte{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, CTAP2ErrInvalidCBOR},
		{"huge byte string header", CmdMakeCredential, []byte{0xa1, 0x01, 0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, CTAP2ErrInvalidCBOR},
		{"array of 2000 elements", CmdMakeCredential, withParam(int(makeCredentialExcludeList), manyInts), CTAP2ErrInvalidCBOR},
		{"excludeList longer than maxCredentialCountInList", CmdMakeCredential, withParam(int(makeCredentialExcludeList), longExcludeList), CTAP2ErrLimitExceeded},
		{"invalid UTF-8", CmdMakeCredential, badUTF8, CTAP2ErrInvalidCBOR},
		{"alg out of int64 range", CmdMakeCredential, withParam(int(makeCredentialPubKeyCredParams), []any{
			map[string]any{"type": "public-key", "alg": uint64(1) << 63},
		}), CTAP2ErrCBORUnexpectedType},
		{"negative pinUvAuthProtocol", CmdMakeCredential, withParam(int(makeCredentialPinUvAuthProtocol), -1), CTAP2ErrCBORUnexpectedType},
		{"transports element not text", CmdMakeCredential, withParam(int(makeCredentialExcludeList), []any{
			map[string]any{"type": "public-key", "id": []byte{1}, "transports": []any{"usb", 42}},
		}), CTAP2ErrCBORUnexpectedType},
		{"array as map key", CmdMakeCredential, []byte{0xa1, 0x81, 0x01, 0x01}, CTAP2ErrCBORUnexpectedType},
		{"byte string as map key", CmdMakeCredential, []byte{0xa1, 0x41, 0x01, 0x01}, CTAP2ErrCBORUnexpectedType},
		{"same key twice, encoded differently", CmdGetAssertion, []byte{0xa2, 0x01, 0x61, 'a', 0x18, 0x01, 0x61, 'b'}, CTAP2ErrInvalidCBOR},
		{"same text key twice", CmdMakeCredential, withParam(int(makeCredentialRP), cborRaw{0xa2, 0x62, 'i', 'd', 0x61, 'a', 0x62, 'i', 'd', 0x61, 'b'}), CTAP2ErrInvalidCBOR},
		{"nested tag", CmdMakeCredential, []byte{0xa1, 0x05, 0x81, 0xc2, 0x41, 0x01}, CTAP2ErrInvalidCBOR},
		{"float alg", CmdMakeCredential, withParam(int(makeCredentialPubKeyCredParams), []any{
			map[string]any{"type": "public-key", "alg": -7.0},
		}), CTAP2ErrCBORUnexpectedType},
		{"too long for maxMsgSize", CmdMakeCredential, withParam(int(makeCredentialExtensions), map[string]any{"x": bytes.Repeat([]byte{1}, DefaultMaxMsgSize)}), CTAP1ErrInvalidLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := d.callRaw(t.Context(), tc.cmd, tc.params)
			if status != tc.want {
				t.Errorf("%v, want %v", status, tc.want)
			}
			d.mustGetInfo()
		})
	}
	if asked := d.presence.asked(); len(asked) != 0 {
		t.Errorf("presence asked %d times for malformed requests", len(asked))
	}
}

// TestUnknownKeysIgnored adds map keys nobody knows, at every level.
func TestUnknownKeysIgnored(t *testing.T) {
	d := newTestDevice(t)
	p := makeCredentialParams("example.com", []byte{1}, "alice", true)
	p[99] = "future parameter"
	p[-5] = []any{1}
	p[int(makeCredentialRP)].(map[string]any)["future"] = 1
	p[int(makeCredentialUser)].(map[string]any)["future"] = []byte{1}
	p[int(makeCredentialOptions)].(map[string]any)["futureOption"] = 7 // not even a bool
	p[int(makeCredentialExtensions)] = map[string]any{"test_extension": "extension CBOR", "float": 1.5, "half": cborRaw{0xf9, 0x3c, 0x00}}
	p[98] = cborRaw{0xfb, 0, 0, 0, 0, 0, 0, 0, 0} // a double, skipped over
	p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key", "id": []byte{1}, "future": 1}}
	reg := d.register(p)

	ga := getAssertionParams("example.com", reg.authData.credentialID)
	ga[42] = map[int]any{1: 2}
	ga[int(getAssertionOptions)] = map[string]any{"future": true}
	status, _ := d.call(CmdGetAssertion, ga)
	if status != CTAP2OK {
		t.Fatalf("getAssertion with unknown keys: %v", status)
	}
	// A text key at the top level is not a parameter either.
	raw := encode(t, map[any]any{"text key": 1, uint64(getAssertionRPID): "example.com", uint64(getAssertionClientDataHash): clientDataHash})
	if status, _ := d.callRaw(t.Context(), CmdGetAssertion, raw); status != CTAP2OK {
		t.Fatalf("getAssertion with a text key: %v", status)
	}
}

func TestDecodeValueKeepsEmptyBytes(t *testing.T) {
	p, err := decodeRequest([]byte{0xa1, 0x01, 0x40})
	if err != nil {
		t.Fatal(err)
	}
	b, present, err := field[[]byte](p, paramKey(1), "x")
	if err != nil || !present || b == nil || len(b) != 0 {
		t.Fatalf("empty byte string: %v %v %v", b, present, err)
	}
	if _, present, _ := field[[]byte](p, paramKey(2), "y"); present {
		t.Fatal("absent parameter reported present")
	}
}

// TestStatusErrorMessages checks that errors name what was wrong.
func TestStatusErrorMessages(t *testing.T) {
	p := makeCredentialParams("example.com", []byte{1}, "alice", false)
	p[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"type": "public-key", "alg": -7}, map[string]any{"type": 5, "alg": -7}}
	a := newTestDevice(t).a
	_, err := a.decodeMakeCredential(encode(t, p))
	if statusOf(err) != CTAP2ErrCBORUnexpectedType || !strings.Contains(err.Error(), "pubKeyCredParams[1]") || !strings.Contains(err.Error(), "type") {
		t.Fatalf("error %v", err)
	}
	if statusOf(fmt.Errorf("outer: %w", err)) != CTAP2ErrCBORUnexpectedType {
		t.Fatal("wrapping lost the status")
	}
}
