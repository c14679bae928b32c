package ctap1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	data := bytes.Repeat([]byte{0xab}, 64)
	long := bytes.Repeat([]byte{0xcd}, 300) // more than a short Lc can say
	tests := []struct {
		name string
		apdu []byte
		want command    // when sw is SWNoError
		sw   StatusWord // SWNoError: parses
	}{
		{"header only", []byte{0, 3, 1, 2}, command{ins: 3, p1: 1, p2: 2}, SWNoError},
		{"short Le", []byte{0, 3, 0, 0, 0}, command{ins: 3}, SWNoError},
		{"extended Le", []byte{0, 3, 0, 0, 0, 0, 0}, command{ins: 3}, SWNoError},
		{"extended Lc 0 and Le (python-fido2)", []byte{0, 3, 0, 0, 0, 0, 0, 0, 0}, command{ins: 3}, SWNoError},
		{"extended Lc", append([]byte{0, 1, 0, 0, 0, 0, 64}, data...), command{ins: 1, data: data}, SWNoError},
		{"extended Lc and Le", append(append([]byte{0, 1, 3, 0, 0, 0, 64}, data...), 0, 0), command{ins: 1, p1: 3, data: data}, SWNoError},
		{"extended Lc above 255", append([]byte{0, 2, 0, 0, 0, 1, 44}, long...), command{ins: 2, data: long}, SWNoError},
		{"short Lc", append([]byte{0, 1, 0, 0, 64}, data...), command{ins: 1, data: data}, SWNoError},
		{"short Lc and Le", append(append([]byte{0, 1, 0, 0, 64}, data...), 0), command{ins: 1, data: data}, SWNoError},

		{"empty", nil, command{}, SWWrongLength},
		{"three bytes", []byte{0, 3, 0}, command{}, SWWrongLength},
		{"CLA 0x80", []byte{0x80, 3, 0, 0}, command{}, SWCLANotSupported},
		{"CLA 0xff with data", append([]byte{0xff, 1, 0, 0, 0, 0, 64}, data...), command{}, SWCLANotSupported},
		{"extended Lc longer than the data", append([]byte{0, 1, 0, 0, 0, 0, 65}, data...), command{}, SWWrongLength},
		{"extended Lc shorter than the data", append([]byte{0, 1, 0, 0, 0, 0, 60}, data...), command{}, SWWrongLength},
		{"extended Le of one byte", append(append([]byte{0, 1, 0, 0, 0, 0, 64}, data...), 0), command{}, SWWrongLength},
		{"extended Le of three bytes", append(append([]byte{0, 1, 0, 0, 0, 0, 64}, data...), 0, 0, 0), command{}, SWWrongLength},
		{"extended marker and one byte", []byte{0, 3, 0, 0, 0, 0}, command{}, SWWrongLength},
		{"short Lc longer than the data", append([]byte{0, 1, 0, 0, 65}, data...), command{}, SWWrongLength},
		{"short Lc with two bytes after the data", append(append([]byte{0, 1, 0, 0, 64}, data...), 0, 0), command{}, SWWrongLength},
		{"short Lc of 255, no data", []byte{0, 1, 0, 0, 0xff, 1}, command{}, SWWrongLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCommand(tc.apdu)
			if sw := statusWordOf(err); sw != tc.sw {
				t.Fatalf("status %v, want %v (err %v)", sw, tc.sw, err)
			}
			if tc.sw != SWNoError {
				return
			}
			if got.cla != 0 || got.ins != tc.want.ins || got.p1 != tc.want.p1 || got.p2 != tc.want.p2 || !bytes.Equal(got.data, tc.want.data) {
				t.Errorf("parsed %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStatusWord(t *testing.T) {
	for _, tc := range []struct {
		sw   StatusWord
		name string
		resp []byte
	}{
		{SWNoError, "SW_NO_ERROR", []byte{0x90, 0x00}},
		{SWConditionsNotSatisfied, "SW_CONDITIONS_NOT_SATISFIED", []byte{0x69, 0x85}},
		{SWWrongData, "SW_WRONG_DATA", []byte{0x6a, 0x80}},
		{SWWrongLength, "SW_WRONG_LENGTH", []byte{0x67, 0x00}},
		{SWCLANotSupported, "SW_CLA_NOT_SUPPORTED", []byte{0x6e, 0x00}},
		{SWINSNotSupported, "SW_INS_NOT_SUPPORTED", []byte{0x6d, 0x00}},
		{SWNoPreciseDiagnosis, "SW_NO_PRECISE_DIAGNOSIS", []byte{0x6f, 0x00}},
		{0x6b00, "SW 0x6B00", []byte{0x6b, 0x00}},
	} {
		if got := tc.sw.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
		if got := tc.sw.Response(); !bytes.Equal(got, tc.resp) {
			t.Errorf("%v.Response() = %x, want %x", tc.sw, got, tc.resp)
		}
	}
	err := statusErrorf(SWWrongData, "because %w", errors.ErrUnsupported)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "SW_WRONG_DATA: because") {
		t.Errorf("statusErrorf: %v", err)
	}
	if statusWordOf(errors.New("surprise")) != SWNoPreciseDiagnosis || statusWordOf(nil) != SWNoError {
		t.Error("statusWordOf of a plain error or nil")
	}
}
