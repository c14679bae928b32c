package ctap2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Limits of the request decoder. CTAP 2.1 §8 caps nesting at four levels of
// maps and arrays; the element limits are far above anything a 7609-byte
// message can hold legitimately and only stop absurd headers early.
const (
	maxNestedLevels  = 4
	maxArrayElements = 1024
	maxMapPairs      = 256
)

var (
	// encMode writes CTAP2 canonical CBOR (CTAP 2.1 §8), also into a
	// caller's buffer.
	encMode = mustEncMode(cbor.CTAP2EncOptions())
	// decMode checks requests: well-formed, definite lengths only, no tags,
	// bounded nesting and sizes. (decodeMap rejects duplicate keys.)
	decMode = mustDecMode(cbor.DecOptions{
		MaxNestedLevels:  maxNestedLevels,
		MaxArrayElements: maxArrayElements,
		MaxMapPairs:      maxMapPairs,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	})
)

func mustEncMode(o cbor.EncOptions) cbor.UserBufferEncMode {
	m, err := o.UserBufferEncMode()
	if err != nil {
		panic(err) // constant options: fails only if the code is wrong
	}
	return m
}

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err) // constant options: fails only if the code is wrong
	}
	return m
}

// CBOR major types (RFC 8949 §3.1).
const (
	majorUnsigned = 0
	majorNegative = 1
	majorBytes    = 2
	majorText     = 3
	majorArray    = 4
	majorMap      = 5

	cborFalse = 0xf4
	cborTrue  = 0xf5
)

// A request is checked once as a whole by decMode (well-formed, within the
// limits, no indefinite lengths, no tags); its parts are then read here
// without reflection, since getAssertion must stay cheap next to its
// signature.

// head reads the head of the well-formed data item at the start of data:
// its major type, its argument (a value, a length or a count) and the
// head's length.
func head(data []byte) (major byte, arg uint64, n int) {
	major, info := data[0]>>5, data[0]&0x1f
	switch {
	case info < 24:
		return major, uint64(info), 1
	case info == 24:
		return major, uint64(data[1]), 2
	case info == 25:
		return major, uint64(binary.BigEndian.Uint16(data[1:])), 3
	case info == 26:
		return major, uint64(binary.BigEndian.Uint32(data[1:])), 5
	case info == 27:
		return major, binary.BigEndian.Uint64(data[1:]), 9
	}
	return major, 0, 1 // indefinite lengths: excluded by decMode
}

// itemLen is the length of the well-formed data item at the start of data.
func itemLen(data []byte) int {
	major, arg, n := head(data)
	switch major {
	case majorBytes, majorText:
		n += int(arg)
	case majorArray:
		for range arg {
			n += itemLen(data[n:])
		}
	case majorMap:
		for range 2 * arg {
			n += itemLen(data[n:])
		}
	}
	return n
}

// params is a CBOR map as it arrived, each key and value still encoded, so
// that each parameter is decoded to the type it must have and a wrong type
// is reported as CTAP2_ERR_CBOR_UNEXPECTED_TYPE. Requests have a handful of
// keys, so lookups scan.
type params []mapEntry

type mapEntry struct {
	key, value []byte
}

// lookup returns the encoded value under an unsigned integer (paramKey) or
// text key.
func (p params) lookup(key any) ([]byte, bool) {
	for _, e := range p {
		major, arg, n := head(e.key)
		switch k := key.(type) {
		case paramKey:
			if major == majorUnsigned && arg == k {
				return e.value, true
			}
		case string:
			if major == majorText && string(e.key[n:]) == k {
				return e.value, true
			}
		}
	}
	return nil, false
}

// value is what a parameter can decode to.
type value interface {
	[]byte | string | bool | int64 | uint64 | params | [][]byte
}

// decodeRequest decodes the CBOR parameters of a command: a map, or nothing
// at all (which reads as an empty map, so that required parameters are
// reported missing).
func decodeRequest(data []byte) (params, error) {
	if len(data) == 0 {
		return params{}, nil
	}
	if err := decMode.Wellformed(data); err != nil {
		return nil, &StatusError{Status: CTAP2ErrInvalidCBOR, Err: err}
	}
	return decodeValue[params](data, "request")
}

// field decodes the parameter under key (a paramKey or a text key), if
// present; name is its name for error messages.
func field[T value](p params, key any, name string) (v T, present bool, err error) {
	raw, ok := p.lookup(key)
	if !ok {
		return v, false, nil
	}
	v, err = decodeValue[T](raw, name)
	return v, err == nil, err
}

// requiredField decodes the parameter under key; CTAP2_ERR_MISSING_PARAMETER
// when it is absent.
func requiredField[T value](p params, key any, name string) (T, error) {
	v, present, err := field[T](p, key, name)
	if err == nil && !present {
		err = statusErrorf(CTAP2ErrMissingParameter, "%s is missing", name)
	}
	return v, err
}

// decodeValue decodes one data item of a well-formed request into T, after
// checking that its CBOR type is the one T stands for: byte string, text
// string (valid UTF-8), boolean, integer, unsigned integer, map, array. A
// byte string is copied, and is non-nil even when empty, so that "present
// but empty" differs from "absent".
func decodeValue[T value](raw []byte, name string) (T, error) {
	var v T
	major, arg, n := head(raw)
	ok := true
	switch p := any(&v).(type) {
	case *[]byte:
		ok = major == majorBytes
		if ok {
			*p = append([]byte{}, raw[n:n+int(arg)]...)
		}
	case *string:
		ok = major == majorText
		if ok {
			if !utf8.Valid(raw[n : n+int(arg)]) {
				return v, statusErrorf(CTAP2ErrInvalidCBOR, "%s: invalid UTF-8", name)
			}
			*p = string(raw[n : n+int(arg)])
		}
	case *bool:
		ok = raw[0] == cborFalse || raw[0] == cborTrue
		*p = raw[0] == cborTrue
	case *int64:
		ok = (major == majorUnsigned || major == majorNegative) && arg <= math.MaxInt64
		if major == majorNegative {
			*p = -1 - int64(arg)
		} else {
			*p = int64(arg)
		}
	case *uint64:
		ok = major == majorUnsigned
		*p = arg
	case *params:
		ok = major == majorMap
		if ok {
			m, err := decodeMap(raw, name)
			if err != nil {
				return v, err
			}
			*p = m
		}
	case *[][]byte:
		ok = major == majorArray
		if ok {
			elems := make([][]byte, arg)
			for i := range elems {
				l := itemLen(raw[n:])
				elems[i], n = raw[n:n+l], n+l
			}
			*p = elems
		}
	}
	if !ok {
		return v, statusErrorf(CTAP2ErrCBORUnexpectedType, "%s: unexpected CBOR type or value (initial byte 0x%02x)", name, raw[0])
	}
	return v, nil
}

// decodeMap splits a well-formed map into its entries. Keys must be
// integers or text strings, each at most once.
func decodeMap(raw []byte, name string) (params, error) {
	_, count, off := head(raw)
	m := make(params, 0, count)
	for range count {
		keyLen := itemLen(raw[off:])
		key := raw[off : off+keyLen]
		off += keyLen
		valueLen := itemLen(raw[off:])
		value := raw[off : off+valueLen]
		off += valueLen
		if major := key[0] >> 5; major != majorUnsigned && major != majorNegative && major != majorText {
			return nil, statusErrorf(CTAP2ErrCBORUnexpectedType, "%s: map key of CBOR major type %d", name, major)
		}
		for _, e := range m {
			if sameKey(e.key, key) {
				return nil, statusErrorf(CTAP2ErrInvalidCBOR, "%s: duplicate map key %x", name, key)
			}
		}
		m = append(m, mapEntry{key, value})
	}
	return m, nil
}

// sameKey compares two integer or text map keys by value.
func sameKey(a, b []byte) bool {
	majorA, argA, nA := head(a)
	majorB, argB, nB := head(b)
	if majorA != majorB || argA != argB {
		return false
	}
	return majorA != majorText || bytes.Equal(a[nA:], b[nB:])
}

// decodeArray decodes the array parameter under key, each element with elem.
// An array longer than maxLen is CTAP2_ERR_LIMIT_EXCEEDED (maxLen 0: no
// limit beyond the decoder's).
func decodeArray[T any](p params, key any, name string, maxLen int, elem func(raw []byte, name string) (T, error)) (vs []T, present bool, err error) {
	raws, present, err := field[[][]byte](p, key, name)
	if err != nil || !present {
		return nil, present, err
	}
	if maxLen > 0 && len(raws) > maxLen {
		return nil, true, statusErrorf(CTAP2ErrLimitExceeded, "%s has %d entries, more than %d", name, len(raws), maxLen)
	}
	vs = make([]T, 0, len(raws))
	for i, raw := range raws {
		v, err := elem(raw, "element")
		if err != nil {
			return nil, true, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		vs = append(vs, v)
	}
	return vs, true, nil
}

// credentialTypePublicKey is the only PublicKeyCredentialType (WebAuthn
// §5.8.2); entries of other types are ignored.
const credentialTypePublicKey = "public-key"

// rpEntity is a PublicKeyCredentialRpEntity (WebAuthn §5.4.2).
type rpEntity struct {
	ID   string
	Name string
}

func decodeRPEntity(raw []byte, name string) (rpEntity, error) {
	var rp rpEntity
	m, err := decodeValue[params](raw, name)
	if err != nil {
		return rp, err
	}
	if rp.ID, err = requiredField[string](m, "id", name+".id"); err != nil {
		return rp, err
	}
	if rp.Name, _, err = field[string](m, "name", name+".name"); err != nil {
		return rp, err
	}
	// Truncated to 64 bytes, as user names are (limits.go).
	rp.Name = truncateName(rp.Name)
	_, _, err = field[string](m, "icon", name+".icon") // deprecated; checked, not kept
	return rp, err
}

// userEntity is a PublicKeyCredentialUserEntity (WebAuthn §5.4.3).
type userEntity struct {
	ID          []byte
	Name        string
	DisplayName string
}

func decodeUserEntity(raw []byte, name string) (userEntity, error) {
	var u userEntity
	m, err := decodeValue[params](raw, name)
	if err != nil {
		return u, err
	}
	if u.ID, err = requiredField[[]byte](m, "id", name+".id"); err != nil {
		return u, err
	}
	if err = checkUserID(u.ID, name+".id"); err != nil {
		return u, err
	}
	if u.Name, _, err = field[string](m, "name", name+".name"); err != nil {
		return u, err
	}
	if u.DisplayName, _, err = field[string](m, "displayName", name+".displayName"); err != nil {
		return u, err
	}
	// Truncated to 64 bytes (limits.go).
	u.Name, u.DisplayName = truncateName(u.Name), truncateName(u.DisplayName)
	_, _, err = field[string](m, "icon", name+".icon") // deprecated; checked, not kept
	return u, err
}

// credentialParameters is a PublicKeyCredentialParameters (WebAuthn §5.3).
type credentialParameters struct {
	Type string
	Alg  int64
}

func decodeCredentialParameters(raw []byte, name string) (credentialParameters, error) {
	var p credentialParameters
	m, err := decodeValue[params](raw, name)
	if err != nil {
		return p, err
	}
	if p.Type, err = requiredField[string](m, "type", "type"); err != nil {
		return p, err
	}
	p.Alg, err = requiredField[int64](m, "alg", "alg")
	return p, err
}

// credentialDescriptor is a PublicKeyCredentialDescriptor (WebAuthn §5.8.3),
// an entry of an allowList or excludeList.
type credentialDescriptor struct {
	Type string
	ID   []byte
}

func decodeCredentialDescriptor(raw []byte, name string) (credentialDescriptor, error) {
	var d credentialDescriptor
	m, err := decodeValue[params](raw, name)
	if err != nil {
		return d, err
	}
	if d.Type, err = requiredField[string](m, "type", "type"); err != nil {
		return d, err
	}
	if d.ID, err = requiredField[[]byte](m, "id", "id"); err != nil {
		return d, err
	}
	// transports is only a hint; check its shape and drop it.
	_, _, err = decodeArray(m, "transports", "transports", 0, decodeValue[string])
	return d, err
}

// Option IDs of the options parameter and of authenticatorGetInfo.
const (
	optionRK   = "rk"
	optionUP   = "up"
	optionUV   = "uv"
	optionPlat = "plat"
)

// option is the value of an option as the request gave it.
type option uint8

const (
	optionAbsent option = iota
	optionFalse
	optionTrue
)

// requestOptions is the options parameter of authenticatorMakeCredential and
// authenticatorGetAssertion. Options the authenticator does not understand
// are ignored, as the specification requires.
type requestOptions struct {
	rk, up, uv option
}

func decodeOptions(p params, key any) (requestOptions, error) {
	var o requestOptions
	m, _, err := field[params](p, key, "options")
	if err != nil {
		return o, err
	}
	if o.rk, err = decodeOption(m, optionRK); err != nil {
		return o, err
	}
	if o.up, err = decodeOption(m, optionUP); err != nil {
		return o, err
	}
	o.uv, err = decodeOption(m, optionUV)
	return o, err
}

func decodeOption(m params, id string) (option, error) {
	v, present, err := field[bool](m, id, id)
	switch {
	case err != nil:
		// The name is joined here, not passed in: most requests have no
		// error to name, and getAssertion must stay cheap.
		return optionAbsent, fmt.Errorf("options.%w", err)
	case !present:
		return optionAbsent, nil
	case v:
		return optionTrue, nil
	}
	return optionFalse, nil
}

// pinUvAuth holds the pinUvAuthParam and pinUvAuthProtocol parameters; nil
// means absent (a present but empty pinUvAuthParam is a non-nil empty
// slice).
type pinUvAuth struct {
	param    []byte
	protocol *uint64
}

func decodePinUvAuth(p params, paramKey, protocolKey any) (pinUvAuth, error) {
	var a pinUvAuth
	var err error
	if a.param, _, err = field[[]byte](p, paramKey, "pinUvAuthParam"); err != nil {
		return a, err
	}
	protocol, present, err := field[uint64](p, protocolKey, "pinUvAuthProtocol")
	if present {
		a.protocol = &protocol
	}
	return a, err
}

// checkMapType checks that a parameter, when present, is a map, without
// decoding it further.
func checkMapType(p params, key any, name string) error {
	if raw, ok := p.lookup(key); ok && raw[0]>>5 != majorMap {
		return statusErrorf(CTAP2ErrCBORUnexpectedType, "%s: not a map", name)
	}
	return nil
}
