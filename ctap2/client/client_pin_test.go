package client

import (
	"context"
	"strings"
	"testing"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// infoOnly is an authenticator that answers every command with a getInfo
// listing protocols.
type infoOnly struct{ protocols []int }

func (a infoOnly) CBOR(context.Context, []byte, func(byte)) ([]byte, error) {
	b, err := encMode.Marshal(map[int]any{1: []string{"FIDO_2_1"}, 3: make([]byte, 16), 6: a.protocols})
	return append([]byte{0}, b...), err
}

// TestProtocolChoice: version 0 takes the first of the authenticator's
// pinUvAuthProtocols that the client knows; an explicit version is used
// as it is.
func TestProtocolChoice(t *testing.T) {
	for _, tc := range []struct {
		offered []int
		version int
		want    int // 0: an error
	}{
		{[]int{2, 1}, 0, 2},
		{[]int{1}, 0, 1},
		{[]int{3, 1, 2}, 0, 1},
		{[]int{3}, 0, 0},
		{nil, 0, 0},
		{[]int{2, 1}, 1, 1},
		{nil, 7, 0},
	} {
		p, err := New(infoOnly{tc.offered}).protocol(t.Context(), tc.version)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("offered %v, version %d: protocol %d, want an error", tc.offered, tc.version, p.Version())
		case tc.want != 0 && (err != nil || p.Version() != tc.want):
			t.Errorf("offered %v, version %d: %v, want protocol %d", tc.offered, tc.version, err, tc.want)
		}
	}
}

// TestPaddedPIN: paddedNewPin is 64 bytes; a PIN that leaves no room for
// the padding cannot be sent.
func TestPaddedPIN(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"1234", true},
		{"ünïcødé", true},
		{strings.Repeat("9", 63), true},
		{strings.Repeat("9", 64), false},
		{strings.Repeat("€", 22), false}, // 66 bytes
	} {
		padded, err := paddedPIN(tc.pin)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.pin, err)
			continue
		}
		if tc.ok && (len(padded) != pinuv.PaddedPINLength || string(padded[:len(tc.pin)]) != tc.pin || strings.Trim(string(padded[len(tc.pin):]), "\x00") != "") {
			t.Errorf("%q padded to %x", tc.pin, padded)
		}
	}
}
