//go:build linux

package uhid

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/testenv"
)

// layoutTable lists each layout constant with the C expression that defines
// it in include/uapi/linux/uhid.h and its value worked out by hand from the
// header's packed structs.
var layoutTable = []struct {
	name  string
	got   int
	cExpr string
	want  int
}{
	{"eventSize", eventSize, "sizeof(struct uhid_event)", 4380},
	{"offPayload", offPayload, "offsetof(struct uhid_event, u)", 4},
	{"create2Name", create2Name, "offsetof(struct uhid_event, u.create2.name)", 4},
	{"create2Phys", create2Phys, "offsetof(struct uhid_event, u.create2.phys)", 132},
	{"create2Uniq", create2Uniq, "offsetof(struct uhid_event, u.create2.uniq)", 196},
	{"create2RDSize", create2RDSize, "offsetof(struct uhid_event, u.create2.rd_size)", 260},
	{"create2Bus", create2Bus, "offsetof(struct uhid_event, u.create2.bus)", 262},
	{"create2Vendor", create2Vendor, "offsetof(struct uhid_event, u.create2.vendor)", 264},
	{"create2Product", create2Product, "offsetof(struct uhid_event, u.create2.product)", 268},
	{"create2Version", create2Version, "offsetof(struct uhid_event, u.create2.version)", 272},
	{"create2Country", create2Country, "offsetof(struct uhid_event, u.create2.country)", 276},
	{"create2RDData", create2RDData, "offsetof(struct uhid_event, u.create2.rd_data)", 280},
	{"create2End", create2End, "offsetof(struct uhid_event, u.create2) + sizeof(struct uhid_create2_req)", 4376},
	{"nameSize", nameSize, "sizeof(((struct uhid_create2_req *)0)->name)", 128},
	{"physSize", physSize, "sizeof(((struct uhid_create2_req *)0)->phys)", 64},
	{"uniqSize", uniqSize, "sizeof(((struct uhid_create2_req *)0)->uniq)", 64},
	{"maxDescriptorSize", maxDescriptorSize, "HID_MAX_DESCRIPTOR_SIZE", 4096},
	{"dataMax", dataMax, "UHID_DATA_MAX", 4096},
	{"input2Size", input2Size, "offsetof(struct uhid_event, u.input2.size)", 4},
	{"input2Data", input2Data, "offsetof(struct uhid_event, u.input2.data)", 6},
	{"outputData", outputData, "offsetof(struct uhid_event, u.output.data)", 4},
	{"outputSize", outputSize, "offsetof(struct uhid_event, u.output.size)", 4100},
	{"outputRType", outputRType, "offsetof(struct uhid_event, u.output.rtype)", 4102},
	{"reportReqID(get)", reportReqID, "offsetof(struct uhid_event, u.get_report.id)", 4},
	{"reportReqID(set)", reportReqID, "offsetof(struct uhid_event, u.set_report.id)", 4},
	{"replyID(get)", replyID, "offsetof(struct uhid_event, u.get_report_reply.id)", 4},
	{"replyErr(get)", replyErr, "offsetof(struct uhid_event, u.get_report_reply.err)", 8},
	{"replyID(set)", replyID, "offsetof(struct uhid_event, u.set_report_reply.id)", 4},
	{"replyErr(set)", replyErr, "offsetof(struct uhid_event, u.set_report_reply.err)", 8},
	{"setReplyEnd", setReplyEnd, "offsetof(struct uhid_event, u) + sizeof(struct uhid_set_report_reply_req)", 10},
	{"eventDestroy", int(eventDestroy), "UHID_DESTROY", 1},
	{"eventStart", int(eventStart), "UHID_START", 2},
	{"eventStop", int(eventStop), "UHID_STOP", 3},
	{"eventOpen", int(eventOpen), "UHID_OPEN", 4},
	{"eventClose", int(eventClose), "UHID_CLOSE", 5},
	{"eventOutput", int(eventOutput), "UHID_OUTPUT", 6},
	{"eventGetReport", int(eventGetReport), "UHID_GET_REPORT", 9},
	{"eventGetReportReply", int(eventGetReportReply), "UHID_GET_REPORT_REPLY", 10},
	{"eventCreate2", int(eventCreate2), "UHID_CREATE2", 11},
	{"eventInput2", int(eventInput2), "UHID_INPUT2", 12},
	{"eventSetReport", int(eventSetReport), "UHID_SET_REPORT", 13},
	{"eventSetReportReply", int(eventSetReportReply), "UHID_SET_REPORT_REPLY", 14},
	{"reportTypeOutput", int(reportTypeOutput), "UHID_OUTPUT_REPORT", 1},
	{"busUSB", busUSB, "BUS_USB", 3},
	{"errEIO", errEIO, "EIO", 5},
}

func TestLayoutConstants(t *testing.T) {
	for _, c := range layoutTable {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d (%s)", c.name, c.got, c.want, c.cExpr)
		}
	}
}

// TestLayoutMatchesKernelHeader compiles the layout table's C expressions
// against the installed kernel header (Debian: linux-libc-dev) and compares
// them with the Go constants.
func TestLayoutMatchesKernelHeader(t *testing.T) {
	const header = "/usr/include/linux/uhid.h"
	_, err := os.Stat(header)
	testenv.Require(t, err == nil, header+" (Debian package linux-libc-dev)")
	cc, err := exec.LookPath("cc")
	testenv.Require(t, err == nil, "a C compiler (cc), to read the kernel header's layout")
	var src strings.Builder
	src.WriteString("#include <stddef.h>\n#include <stdio.h>\n#include <errno.h>\n#include <linux/uhid.h>\nint main(void) {\n")
	for _, c := range layoutTable {
		fmt.Fprintf(&src, "\tprintf(\"%%s %%ld\\n\", %q, (long)(%s));\n", c.name, c.cExpr)
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "layout.c"), []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-o", filepath.Join(dir, "layout"), filepath.Join(dir, "layout.c")).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "layout")).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(layoutTable) {
		t.Fatalf("got %d lines from the C program, want %d", len(lines), len(layoutTable))
	}
	for i, line := range lines {
		name, value, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(value)
		if err != nil || name != layoutTable[i].name {
			t.Fatalf("bad line %q", line)
		}
		if n != layoutTable[i].got {
			t.Errorf("%s = %d in Go, %s = %d in the kernel header", name, layoutTable[i].got, layoutTable[i].cExpr, n)
		}
	}
}

func TestEncodeCreate2(t *testing.T) {
	cfg := Config{VendorID: 0x1234, ProductID: 0xabcd, Name: "key name", Phys: "phys/0", Uniq: "SERIAL-1", Version: 0x0102, Country: 7}
	descriptor := []byte{0x06, 0xD0, 0xF1, 0xC0}
	b := encodeCreate2(cfg, descriptor)
	if len(b) != 4380 {
		t.Fatalf("len = %d, want sizeof(struct uhid_event) = 4380", len(b))
	}
	ne := binary.NativeEndian
	cString := func(off, size int) string {
		field := b[off : off+size]
		n := bytes.IndexByte(field, 0)
		if n < 0 {
			t.Fatalf("string at %d is not NUL-terminated", off)
		}
		if !bytes.Equal(field[n:], make([]byte, size-n)) {
			t.Errorf("string at %d has bytes after its NUL", off)
		}
		return string(field[:n])
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"type", ne.Uint32(b[0:]), uint32(11)},
		{"name", cString(4, 128), "key name"},
		{"phys", cString(132, 64), "phys/0"},
		{"uniq", cString(196, 64), "SERIAL-1"},
		{"rd_size", ne.Uint16(b[260:]), uint16(len(descriptor))},
		{"bus", ne.Uint16(b[262:]), uint16(3)},
		{"vendor", ne.Uint32(b[264:]), uint32(0x1234)},
		{"product", ne.Uint32(b[268:]), uint32(0xabcd)},
		{"version", ne.Uint32(b[272:]), uint32(0x0102)},
		{"country", ne.Uint32(b[276:]), uint32(7)},
		{"rd_data", string(b[280 : 280+len(descriptor)]), string(descriptor)},
		{"rd_data tail is zero", bytes.Equal(b[280+len(descriptor):], make([]byte, len(b)-280-len(descriptor))), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}

	// A name of the longest valid length still ends in a NUL.
	long := cfg
	long.Name = strings.Repeat("n", 127)
	b = encodeCreate2(long, descriptor)
	if got := cString(4, 128); got != long.Name {
		t.Errorf("127-byte name encoded as %q", got)
	}
}

func TestEncodeInput2(t *testing.T) {
	report := bytes.Repeat([]byte{0xA5}, 64)
	report[0], report[63] = 1, 2
	b := encodeInput2(report)
	ne := binary.NativeEndian
	if got := ne.Uint32(b[0:]); got != 12 {
		t.Errorf("type = %d, want UHID_INPUT2 = 12", got)
	}
	if got := ne.Uint16(b[4:]); got != 64 {
		t.Errorf("size = %d, want 64", got)
	}
	if !bytes.Equal(b[6:], report) {
		t.Errorf("data = %x, want %x", b[6:], report)
	}
}

func TestEncodeDestroyAndReplies(t *testing.T) {
	ne := binary.NativeEndian
	if b := encodeDestroy(); len(b) != 4 || ne.Uint32(b) != 1 {
		t.Errorf("destroy = %x, want the 4-byte type UHID_DESTROY = 1", b)
	}
	for _, typ := range []uint32{eventGetReportReply, eventSetReportReply} {
		b := encodeReply(typ, 0xdeadbeef, 5)
		if len(b) != 10 || ne.Uint32(b[0:]) != typ || ne.Uint32(b[4:]) != 0xdeadbeef || ne.Uint16(b[8:]) != 5 {
			t.Errorf("reply %d = %x, want type, id 0xdeadbeef, err 5", typ, b)
		}
	}
}

// rawEvent builds a kernel event of the given type; set fills in its payload
// at the header's offsets.
func rawEvent(typ uint32, set func(b []byte)) *[eventSize]byte {
	var b [eventSize]byte
	binary.NativeEndian.PutUint32(b[0:], typ)
	if set != nil {
		set(b[:])
	}
	return &b
}

func TestDecodeEvent(t *testing.T) {
	ne := binary.NativeEndian
	payload := make([]byte, 65)
	for i := range payload {
		payload[i] = byte(i)
	}
	tests := []struct {
		name string
		raw  *[eventSize]byte
		want event
	}{
		{"start", rawEvent(2, func(b []byte) { ne.PutUint64(b[4:], 0) }), event{typ: eventStart}},
		{"stop", rawEvent(3, nil), event{typ: eventStop}},
		{"open", rawEvent(4, nil), event{typ: eventOpen}},
		{"close", rawEvent(5, nil), event{typ: eventClose}},
		{"output", rawEvent(6, func(b []byte) {
			copy(b[4:], payload)
			ne.PutUint16(b[4100:], uint16(len(payload)))
			b[4102] = 1
		}), event{typ: eventOutput, data: payload, rtype: reportTypeOutput}},
		{"output size beyond UHID_DATA_MAX", rawEvent(6, func(b []byte) {
			ne.PutUint16(b[4100:], 0xffff)
			b[4102] = 1
		}), event{typ: eventOutput, data: make([]byte, 4096), rtype: reportTypeOutput}},
		{"get report", rawEvent(9, func(b []byte) {
			ne.PutUint32(b[4:], 77)
			b[8], b[9] = 3, 0
		}), event{typ: eventGetReport, id: 77}},
		{"set report", rawEvent(13, func(b []byte) {
			ne.PutUint32(b[4:], 78)
			b[8], b[9] = 0, 1
			ne.PutUint16(b[10:], 2)
		}), event{typ: eventSetReport, id: 78}},
		{"unknown type", rawEvent(99, nil), event{typ: 99}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeEvent(tc.raw)
			if got.typ != tc.want.typ || got.rtype != tc.want.rtype || got.id != tc.want.id || !bytes.Equal(got.data, tc.want.data) {
				t.Errorf("decodeEvent = %+v, want %+v", got, tc.want)
			}
		})
	}

	// OUTPUT data must not alias the read buffer, which the reader reuses.
	raw := rawEvent(6, func(b []byte) { b[4] = 9; ne.PutUint16(b[4100:], 1) })
	ev := decodeEvent(raw)
	raw[4] = 0
	if ev.data[0] != 9 {
		t.Error("OUTPUT data aliases the event buffer")
	}
}

func TestOutputReport(t *testing.T) {
	seq := func(first byte, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = first + byte(i)
		}
		return b
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, 64-len(b))...) }
	tests := []struct {
		name  string
		ev    event
		want  []byte
		valid bool
	}{
		// hidapi, libfido2, python-fido2: report ID 0, then 64 bytes.
		{"65 bytes with report ID 0", event{typ: eventOutput, rtype: 1, data: append([]byte{0}, seq(1, 64)...)}, seq(1, 64), true},
		// A host that writes the report alone, with a non-zero first byte,
		// as the USB HID driver then passes it whole.
		{"64 bytes without report ID", event{typ: eventOutput, rtype: 1, data: seq(0xff, 64)}, seq(0xff, 64), true},
		// hidraw takes the first byte as report ID: 63 bytes of report.
		{"64 bytes with report ID 0", event{typ: eventOutput, rtype: 1, data: append([]byte{0}, seq(1, 63)...)}, pad(seq(1, 63)), true},
		{"short report padded", event{typ: eventOutput, rtype: 1, data: []byte{0, 0x81, 0x82}}, pad([]byte{0x81, 0x82}), true},
		{"too long", event{typ: eventOutput, rtype: 1, data: append([]byte{0}, seq(1, 65)...)}, nil, false},
		{"65 bytes with report ID 1", event{typ: eventOutput, rtype: 1, data: seq(1, 65)}, nil, false},
		{"report ID only", event{typ: eventOutput, rtype: 1, data: []byte{0}}, nil, false},
		{"empty", event{typ: eventOutput, rtype: 1}, nil, false},
		{"feature report", event{typ: eventOutput, rtype: 0, data: append([]byte{0}, seq(1, 64)...)}, nil, false},
		{"not an output event", event{typ: eventOpen}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := outputReport(tc.ev)
			if ok != tc.valid || !bytes.Equal(got, tc.want) {
				t.Errorf("outputReport = %x, %t; want %x, %t", got, ok, tc.want, tc.valid)
			}
		})
	}
}
