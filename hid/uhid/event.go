//go:build linux

package uhid

import (
	"encoding/binary"

	"github.com/vauth/vauth/hid"
)

// Event types (enum uhid_event_type in include/uapi/linux/uhid.h). The legacy
// CREATE, INPUT and OUTPUT_EV events are never used.
const (
	eventDestroy        uint32 = 1
	eventStart          uint32 = 2
	eventStop           uint32 = 3
	eventOpen           uint32 = 4
	eventClose          uint32 = 5
	eventOutput         uint32 = 6
	eventGetReport      uint32 = 9
	eventGetReportReply uint32 = 10
	eventCreate2        uint32 = 11
	eventInput2         uint32 = 12
	eventSetReport      uint32 = 13
	eventSetReportReply uint32 = 14
)

// busUSB is BUS_USB from include/uapi/linux/input.h. libfido2 lists only
// devices on the USB bus, so the device claims it although no USB device
// stands behind it.
const busUSB = 0x03

// reportTypeOutput is UHID_OUTPUT_REPORT (enum uhid_report_type), the type
// of the OUTPUT events a hidraw write produces.
const reportTypeOutput uint8 = 1

// Layout of struct uhid_event: a __u32 type followed by a packed union, all
// in host byte order. Offsets are from the start of the event.
const (
	maxDescriptorSize = 4096 // HID_MAX_DESCRIPTOR_SIZE
	dataMax           = 4096 // UHID_DATA_MAX

	offType    = 0
	offPayload = 4

	// struct uhid_create2_req
	create2Name    = offPayload
	create2Phys    = create2Name + nameSize
	create2Uniq    = create2Phys + physSize
	create2RDSize  = create2Uniq + uniqSize
	create2Bus     = create2RDSize + 2
	create2Vendor  = create2Bus + 2
	create2Product = create2Vendor + 4
	create2Version = create2Product + 4
	create2Country = create2Version + 4
	create2RDData  = create2Country + 4
	create2End     = create2RDData + maxDescriptorSize

	// struct uhid_input2_req
	input2Size = offPayload
	input2Data = input2Size + 2

	// struct uhid_output_req
	outputData  = offPayload
	outputSize  = outputData + dataMax
	outputRType = outputSize + 2

	// struct uhid_get_report_req and struct uhid_set_report_req both start
	// with the request id.
	reportReqID = offPayload

	// struct uhid_get_report_reply_req and struct uhid_set_report_reply_req
	// share their first fields.
	replyID  = offPayload
	replyErr = replyID + 4
	// setReplyEnd ends struct uhid_set_report_reply_req; a GET_REPORT reply
	// with an error carries no data, so its size field stays zero and the
	// kernel extends the short write with zeros.
	setReplyEnd = replyErr + 2

	// eventSize is sizeof(struct uhid_event): the union is as large as its
	// largest member, create2, rounded up to the 8-byte alignment of struct
	// uhid_start_req, the one member the header does not pack.
	eventSize = offPayload + (create2End-offPayload+7)/8*8
)

// Sizes of the NUL-terminated strings in struct uhid_create2_req.
const (
	nameSize = 128
	physSize = 64
	uniqSize = 64
)

// errEIO is the error a reply to GET_REPORT or SET_REPORT carries: the device
// has no feature reports and takes output reports only as UHID_OUTPUT.
const errEIO = 5

// event is a decoded kernel-to-user uhid event. Only the fields of its type
// are set; START's device flags are not needed (the descriptor has no report
// IDs) and not decoded.
type event struct {
	typ   uint32
	data  []byte // OUTPUT: the bytes the host wrote, report ID byte included
	rtype uint8  // OUTPUT
	id    uint32 // GET_REPORT, SET_REPORT: the request to reply to
}

// decodeEvent decodes one event read from /dev/uhid. The kernel may write
// short events, which the caller extends with zeros to a whole event. OUTPUT
// data is copied out of b, so b can be reused.
func decodeEvent(b *[eventSize]byte) event {
	ne := binary.NativeEndian
	ev := event{typ: ne.Uint32(b[offType:])}
	switch ev.typ {
	case eventOutput:
		n := min(int(ne.Uint16(b[outputSize:])), dataMax)
		ev.data = append([]byte(nil), b[outputData:outputData+n]...)
		ev.rtype = b[outputRType]
	case eventGetReport, eventSetReport:
		ev.id = ne.Uint32(b[reportReqID:])
	}
	return ev
}

// encodeCreate2 builds the UHID_CREATE2 event for a validated configuration
// and a report descriptor of at most maxDescriptorSize bytes.
func encodeCreate2(c Config, descriptor []byte) []byte {
	b := make([]byte, eventSize)
	ne := binary.NativeEndian
	ne.PutUint32(b[offType:], eventCreate2)
	// The string fields stay NUL-terminated: validation bounds their length
	// below the field size and b is zeroed.
	copy(b[create2Name:create2Phys], c.Name)
	copy(b[create2Phys:create2Uniq], c.Phys)
	copy(b[create2Uniq:create2RDSize], c.Uniq)
	ne.PutUint16(b[create2RDSize:], uint16(len(descriptor)))
	ne.PutUint16(b[create2Bus:], busUSB)
	ne.PutUint32(b[create2Vendor:], uint32(c.VendorID))
	ne.PutUint32(b[create2Product:], uint32(c.ProductID))
	ne.PutUint32(b[create2Version:], c.Version)
	ne.PutUint32(b[create2Country:], c.Country)
	copy(b[create2RDData:create2End], descriptor)
	return b
}

// encodeInput2 builds the UHID_INPUT2 event that sends report to the host.
// Only the used part of the data array is written; the kernel extends short
// events with zeros.
func encodeInput2(report []byte) []byte {
	b := make([]byte, input2Data+len(report))
	binary.NativeEndian.PutUint32(b[offType:], eventInput2)
	binary.NativeEndian.PutUint16(b[input2Size:], uint16(len(report)))
	copy(b[input2Data:], report)
	return b
}

// encodeDestroy builds the UHID_DESTROY event, which has no payload.
func encodeDestroy() []byte {
	b := make([]byte, offPayload)
	binary.NativeEndian.PutUint32(b[offType:], eventDestroy)
	return b
}

// encodeReply builds the reply to a GET_REPORT or SET_REPORT request: typ is
// eventGetReportReply or eventSetReportReply, errno is zero on success.
func encodeReply(typ, id uint32, errno uint16) []byte {
	b := make([]byte, setReplyEnd)
	binary.NativeEndian.PutUint32(b[offType:], typ)
	binary.NativeEndian.PutUint32(b[replyID:], id)
	binary.NativeEndian.PutUint16(b[replyErr:], errno)
	return b
}

// outputReport turns an OUTPUT event into the report the host sent. The
// kernel passes on exactly what the host wrote to hidraw, report ID byte
// included: hidapi, libfido2 and python-fido2 write 65 bytes, report ID 0 and
// then the report. Like the kernel's USB HID driver, a leading zero is taken
// as the report ID of an unnumbered report and dropped, and any other first
// byte as report data (a host that wrote the 64 bytes alone). Shorter reports
// are padded with zeros; longer ones, empty ones and other report types are
// not reports of this device, and ok is false.
func outputReport(ev event) (report []byte, ok bool) {
	if ev.typ != eventOutput || ev.rtype != reportTypeOutput {
		return nil, false
	}
	data := ev.data
	if len(data) > 0 && data[0] == 0 {
		data = data[1:]
	}
	if len(data) == 0 || len(data) > hid.ReportSize {
		return nil, false
	}
	report = make([]byte, hid.ReportSize)
	copy(report, data)
	return report, true
}
