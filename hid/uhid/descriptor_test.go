//go:build linux

package uhid

import (
	"errors"
	"testing"
)

func TestReportDescriptorParsesBack(t *testing.T) {
	info, err := parseDescriptor(reportDescriptor)
	if err != nil {
		t.Fatal(err)
	}
	want := descriptorInfo{usagePage: 0xF1D0, usage: 0x01, inputBits: 512, outputBits: 512}
	if info != want {
		t.Errorf("parseDescriptor(reportDescriptor) = %+v, want %+v", info, want)
	}
	if !info.isFIDO() {
		t.Error("reportDescriptor is not recognised as FIDO")
	}
	// The usages of the two reports, in order: Data In before the Input
	// item, Data Out before the Output item.
	if reportDescriptor[7] != 0x09 || reportDescriptor[8] != 0x20 || reportDescriptor[20] != 0x09 || reportDescriptor[21] != 0x21 {
		t.Errorf("report usages are not Data In (0x20) then Data Out (0x21): % x", reportDescriptor)
	}
}

func TestParseDescriptor(t *testing.T) {
	fidoBody := []byte{0x09, 0x20, 0x75, 0x08, 0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x75, 0x08, 0x95, 0x40, 0x91, 0x02}
	app := func(head []byte, body ...[]byte) []byte {
		d := append([]byte(nil), head...)
		d = append(d, 0xA1, 0x01)
		for _, b := range body {
			d = append(d, b...)
		}
		return append(d, 0xC0)
	}
	fidoHead := []byte{0x06, 0xD0, 0xF1, 0x09, 0x01}
	tests := []struct {
		name    string
		rd      []byte
		want    descriptorInfo
		fido    bool
		wantErr bool
	}{
		{"fido", app(fidoHead, fidoBody), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 512, outputBits: 512}, true, false},
		{"fido with extended usage", app([]byte{0x0B, 0x01, 0x00, 0xD0, 0xF1}, fidoBody), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 512, outputBits: 512}, true, false},
		{"fido with a long item", append([]byte{0xFE, 0x02, 0x10, 0xAA, 0xBB}, app(fidoHead, fidoBody)...), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 512, outputBits: 512}, true, false},
		{"fido with report ID", app(fidoHead, []byte{0x85, 0x01}, fidoBody), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 512, outputBits: 512, numbered: true}, false, false},
		{"32-byte reports", app(fidoHead, []byte{0x75, 0x08, 0x95, 0x20, 0x81, 0x02, 0x91, 0x02}), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 256, outputBits: 256}, false, false},
		{"keyboard", app([]byte{0x05, 0x01, 0x09, 0x06}, []byte{0x75, 0x08, 0x95, 0x08, 0x81, 0x00}), descriptorInfo{usagePage: 1, usage: 6, inputBits: 64}, false, false},
		{"vendor page", app([]byte{0x06, 0x00, 0xFF, 0x09, 0x01}, fidoBody), descriptorInfo{usagePage: 0xFF00, usage: 1, inputBits: 512, outputBits: 512}, false, false},
		{"nested collection keeps top-level usage", app(fidoHead, []byte{0x09, 0x05, 0xA1, 0x00, 0xC0}, fidoBody), descriptorInfo{usagePage: 0xF1D0, usage: 1, inputBits: 512, outputBits: 512}, true, false},
		{"empty", nil, descriptorInfo{}, false, false},
		{"truncated short item", []byte{0x06, 0xD0}, descriptorInfo{}, false, true},
		{"truncated long item", []byte{0xFE, 0x05, 0x00, 0x01}, descriptorInfo{}, false, true},
		{"long item without header", []byte{0xFE, 0x00}, descriptorInfo{}, false, true},
		{"unterminated collection", []byte{0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01}, descriptorInfo{}, false, true},
		{"end without collection", []byte{0xC0}, descriptorInfo{}, false, true},
		{"push", app(fidoHead, []byte{0xA4}, fidoBody), descriptorInfo{}, false, true},
		{"oversized report", app(fidoHead, []byte{0x77, 0xFF, 0xFF, 0xFF, 0xFF, 0x97, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x02}), descriptorInfo{}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDescriptor(tc.rd)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseDescriptor(% x) error = %v, want error %t", tc.rd, err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errDescriptor) {
					t.Errorf("error %v does not wrap errDescriptor", err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("parseDescriptor = %+v, want %+v", got, tc.want)
			}
			if got.isFIDO() != tc.fido {
				t.Errorf("isFIDO = %t, want %t", got.isFIDO(), tc.fido)
			}
		})
	}
}

// FuzzParseDescriptor checks that no descriptor a device reports can make the
// parser panic or report sizes beyond its bound.
func FuzzParseDescriptor(f *testing.F) {
	f.Add(reportDescriptor)
	f.Add([]byte{0xFE, 0x02, 0x10, 0xAA, 0xBB, 0xA1, 0x01, 0xC0})
	f.Add([]byte{0x85, 0x01, 0x77, 0xFF, 0xFF, 0xFF, 0xFF, 0x97, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x02})
	f.Fuzz(func(t *testing.T, rd []byte) {
		info, err := parseDescriptor(rd)
		if err == nil && (info.inputBits < 0 || info.inputBits > maxReportBits || info.outputBits < 0 || info.outputBits > maxReportBits) {
			t.Errorf("parseDescriptor(% x) = %+v", rd, info)
		}
	})
}
