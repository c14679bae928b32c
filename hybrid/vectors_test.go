package hybrid

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// Third-party vectors, from Chromium's device/fido/cable/v2_handshake_unittest.cc
// (CableV2Encoding.Digits and TunnelServerURLs).
func TestDigitsChromiumVector(t *testing.T) {
	if got := BytesToDigits([]byte{'a', 'b', 255}); got != "16736865" {
		t.Fatalf("BytesToDigits = %q, want 16736865", got)
	}
	b, err := DigitsToBytes("16736865")
	if err != nil || !bytes.Equal(b, []byte{'a', 'b', 255}) {
		t.Fatalf("DigitsToBytes = %x, %v", b, err)
	}
}

func TestDomainNames(t *testing.T) {
	for _, tc := range []struct {
		v    uint16
		want string
		ok   bool
	}{
		{0, "cable.ua5v.com", true},
		{1, "cable.auth.com", true},
		{2, "", false},
		{255, "", false},
		{266, "cable.wufkweyy3uaxb.com", true}, // Chromium's hashed-domain vector
	} {
		got, err := DomainName(tc.v)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("DomainName(%d) = %q, %v; want %q ok=%v", tc.v, got, err, tc.want, tc.ok)
		}
	}
}

var _ = hex.EncodeToString
