package uhid

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	got, err := Config{Uniq: "abc"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{VendorID: 0x1209, ProductID: 0x0001, Name: "vauth FIDO2 security key", Uniq: "abc"}
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
	set := Config{VendorID: 1, ProductID: 2, Name: "n", Phys: "p", Uniq: "u", Version: 3, Country: 4}
	if got, err := set.withDefaults(); err != nil || got != set {
		t.Errorf("withDefaults changed a full config: %+v, %v", got, err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		valid bool
	}{
		{"serial only", Config{Uniq: "0123456789abcdef"}, true},
		{"longest fields", Config{Name: strings.Repeat("n", 127), Phys: strings.Repeat("p", 63), Uniq: strings.Repeat("u", 63)}, true},
		{"all printable", Config{Name: " !~", Phys: "usb-0000:00:14.0-1/input0", Uniq: "!~"}, true},
		{"no serial", Config{}, false},
		{"serial too long", Config{Uniq: strings.Repeat("u", 64)}, false},
		{"serial with space", Config{Uniq: "a b"}, false},
		{"serial with NUL", Config{Uniq: "a\x00b"}, false},
		{"serial with DEL", Config{Uniq: "a\x7f"}, false},
		{"serial not ASCII", Config{Uniq: "séri"}, false},
		{"name too long", Config{Name: strings.Repeat("n", 128), Uniq: "u"}, false},
		{"name with newline", Config{Name: "a\nb", Uniq: "u"}, false},
		{"phys too long", Config{Phys: strings.Repeat("p", 64), Uniq: "u"}, false},
		{"phys with tab", Config{Phys: "a\tb", Uniq: "u"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if (err == nil) != tc.valid {
				t.Fatalf("withDefaults error = %v, want valid %t", err, tc.valid)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}
