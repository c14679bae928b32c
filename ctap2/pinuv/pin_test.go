package pinuv

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeNewPIN(t *testing.T) {
	pad := func(pin string, n int) []byte {
		return append([]byte(pin), make([]byte, n-len(pin))...)
	}
	cases := []struct {
		name    string
		padded  []byte
		min     int
		want    string
		wantErr error
	}{
		{"four digits", pad("1234", 64), 4, "1234", nil},
		{"three digits", pad("123", 64), 4, "", ErrPINPolicyViolation},
		{"minimum below 4 counts as 4", pad("123", 64), 0, "", ErrPINPolicyViolation},
		{"raised minimum met", pad("12345678", 64), 8, "12345678", nil},
		{"raised minimum missed", pad("1234567", 64), 8, "", ErrPINPolicyViolation},
		{"63 bytes", pad(strings.Repeat("a", 63), 64), 4, strings.Repeat("a", 63), nil},
		{"64 bytes, no padding left", []byte(strings.Repeat("a", 64)), 4, "", ErrPINPolicyViolation},
		{"64-byte PIN padded to 80 (CTAP 2.0 style)", pad(strings.Repeat("a", 64), 80), 4, "", ErrInvalidParameter},
		{"short PIN padded to 80", pad("1234", 80), 4, "", ErrInvalidParameter},
		{"padded to 48", pad("1234", 48), 4, "", ErrInvalidParameter},
		{"padded to 63", pad("1234", 63), 4, "", ErrInvalidParameter},
		{"empty", nil, 4, "", ErrInvalidParameter},
		{"all padding", make([]byte, 64), 4, "", ErrPINPolicyViolation},
		{"NUL inside the PIN", pad("12\x0034", 64), 4, "", ErrPINPolicyViolation},
		{"invalid UTF-8", pad("\xff\xfe12", 64), 4, "", ErrPINPolicyViolation},
		{"truncated UTF-8 sequence", pad("1234\xe2\x82", 64), 4, "", ErrPINPolicyViolation},
		{"non-ASCII", pad("pässwörd", 64), 4, "pässwörd", nil},
		{"4 emoji: 16 bytes, 4 code points", pad("🔑🔒🔓🗝", 64), 4, "🔑🔒🔓🗝", nil},
		{"3 emoji: 12 bytes, 3 code points", pad("🔑🔒🔓", 64), 4, "", ErrPINPolicyViolation},
		{"4 emoji below a minimum of 5", pad("🔑🔒🔓🗝", 64), 5, "", ErrPINPolicyViolation},
		{"21 three-byte characters: 63 bytes", pad(strings.Repeat("€", 21), 64), 4, strings.Repeat("€", 21), nil},
		{"16 four-byte characters: 64 bytes", []byte(strings.Repeat("🔑", 16)), 4, "", ErrPINPolicyViolation},
	}
	for _, c := range cases {
		pin, err := DecodeNewPIN(c.padded, c.min)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != c.wantErr.(*Error).Status {
				t.Errorf("%s: error %v does not carry status %#x", c.name, err, c.wantErr.(*Error).Status)
			}
			continue
		}
		if err != nil || string(pin) != c.want {
			t.Errorf("%s: DecodeNewPIN = %q, %v; want %q", c.name, pin, err, c.want)
		}
	}
}

func TestDecodeNewPINCopies(t *testing.T) {
	padded := append([]byte("1234"), make([]byte, 60)...)
	pin, err := DecodeNewPIN(padded, 4)
	if err != nil {
		t.Fatal(err)
	}
	padded[0] = 'x'
	if string(pin) != "1234" {
		t.Fatal("the PIN shares memory with paddedNewPin")
	}
}

func TestErrorStatus(t *testing.T) {
	if StatusInvalidParameter != 0x02 || StatusPINPolicyViolation != 0x37 {
		t.Fatal("status codes differ from CTAP 2.1 §8.2")
	}
	if errors.Is(ErrInvalidParameter, ErrPINPolicyViolation) {
		t.Fatal("errors of different status match")
	}
	_, err := DecodeNewPIN(nil, 4)
	if !strings.Contains(err.Error(), "0x02") {
		t.Errorf("error text %q lacks the status", err)
	}
}

func TestPINHash(t *testing.T) {
	stored := PINHash([]byte("1234"))
	cases := []struct {
		name string
		got  []byte
		want bool
	}{
		{"same PIN", bytes.Clone(stored[:]), true},
		{"other PIN", func() []byte { h := PINHash([]byte("1235")); return h[:] }(), false},
		{"one bit off", func() []byte { h := bytes.Clone(stored[:]); h[15] ^= 1; return h }(), false},
		{"15 bytes", bytes.Clone(stored[:15]), false},
		{"17 bytes", append(bytes.Clone(stored[:]), 0), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := PINHashEqual(stored, c.got); got != c.want {
			t.Errorf("%s: PINHashEqual = %v, want %v", c.name, got, c.want)
		}
	}
}
