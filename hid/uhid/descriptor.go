//go:build linux

package uhid

import (
	"errors"
	"fmt"

	"github.com/vauth/vauth/hid"
)

// FIDO usages (the FIDO Alliance usage page; CTAP 2.1, "HID report
// descriptor and device discovery").
const (
	usagePageFIDO = 0xF1D0
	usageCTAPHID  = 0x01
	usageDataIn   = 0x20
	usageDataOut  = 0x21
)

// reportDescriptor is the HID report descriptor of a vauth device: one
// application collection with usage page FIDO and usage CTAPHID holding a
// 64-byte input report (usage Data In) and a 64-byte output report (usage
// Data Out), without report IDs. systemd's fido_id and libfido2 recognise a
// security key by exactly this usage page and usage.
var reportDescriptor = []byte{
	0x06, usagePageFIDO & 0xFF, usagePageFIDO >> 8, // Usage Page (FIDO Alliance)
	0x09, usageCTAPHID, // Usage (CTAPHID)
	0xA1, 0x01, // Collection (Application)
	0x09, usageDataIn, //   Usage (Data In)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8 bits)
	0x95, hid.ReportSize, //   Report Count (64)
	0x81, 0x02, //   Input (Data, Variable, Absolute)
	0x09, usageDataOut, //   Usage (Data Out)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8 bits)
	0x95, hid.ReportSize, //   Report Count (64)
	0x91, 0x02, //   Output (Data, Variable, Absolute)
	0xC0, // End Collection
}

// Short item types and the tags this parser needs (HID 1.11, section 6.2.2).
const (
	itemMain   = 0
	itemGlobal = 1
	itemLocal  = 2

	tagInput         = 0x8 // main
	tagOutput        = 0x9 // main
	tagCollection    = 0xA // main
	tagEndCollection = 0xC // main
	tagUsagePage     = 0x0 // global
	tagReportSize    = 0x7 // global
	tagReportID      = 0x8 // global
	tagReportCount   = 0x9 // global
	tagPush          = 0xA // global
	tagPop           = 0xB // global
	tagUsage         = 0x0 // local

	longItemPrefix        = 0xFE
	collectionApplication = 0x01

	// maxReportBits bounds the size of all reports of one kind; hidraw
	// never moves more than HID_MAX_BUFFER_SIZE (16384) bytes at once.
	maxReportBits = 8 * 16384
)

// descriptorInfo is what a host needs to know of a report descriptor to use
// the device as a FIDO key.
type descriptorInfo struct {
	usagePage  uint32 // of the first top-level application collection
	usage      uint32
	inputBits  int // total size of the input reports
	outputBits int // total size of the output reports
	numbered   bool
}

// isFIDO reports whether the descriptor is that of a CTAPHID device with
// unnumbered 64-byte reports, the only kind hid.Transport carries.
func (d descriptorInfo) isFIDO() bool {
	return d.usagePage == usagePageFIDO && d.usage == usageCTAPHID && !d.numbered &&
		d.inputBits == 8*hid.ReportSize && d.outputBits == 8*hid.ReportSize
}

var errDescriptor = errors.New("uhid: malformed report descriptor")

// parseDescriptor walks the items of a HID report descriptor. It rejects
// truncated items, unbalanced collections and Push/Pop (which FIDO devices do
// not use), so that a malformed descriptor cannot yield wrong report sizes.
func parseDescriptor(rd []byte) (descriptorInfo, error) {
	var (
		info                   descriptorInfo
		usagePage, size, count uint32
		usage                  uint32 // the first Usage since the last main item
		haveUsage              bool
		depth                  int
		haveApplication        bool
		inputBits, outputBits  uint64
	)
	for i := 0; i < len(rd); {
		prefix := rd[i]
		if prefix == longItemPrefix {
			if i+2 >= len(rd) {
				return descriptorInfo{}, fmt.Errorf("%w: truncated long item at %d", errDescriptor, i)
			}
			i += 3 + int(rd[i+1])
			if i > len(rd) {
				return descriptorInfo{}, fmt.Errorf("%w: truncated long item", errDescriptor)
			}
			continue
		}
		n := int(prefix & 0x3)
		if n == 3 {
			n = 4
		}
		if i+1+n > len(rd) {
			return descriptorInfo{}, fmt.Errorf("%w: truncated item at %d", errDescriptor, i)
		}
		var v uint32
		for k := n - 1; k >= 0; k-- {
			v = v<<8 | uint32(rd[i+1+k])
		}
		typ, tag := (prefix>>2)&0x3, prefix>>4
		i += 1 + n

		switch typ {
		case itemGlobal:
			switch tag {
			case tagUsagePage:
				usagePage = v
			case tagReportSize:
				size = v
			case tagReportCount:
				count = v
			case tagReportID:
				info.numbered = true
			case tagPush, tagPop:
				return descriptorInfo{}, fmt.Errorf("%w: Push/Pop not supported", errDescriptor)
			}
		case itemLocal:
			if tag == tagUsage && !haveUsage {
				if n < 4 {
					v |= usagePage << 16 // a short usage takes the current page
				}
				usage, haveUsage = v, true
			}
		case itemMain:
			switch tag {
			case tagCollection:
				if depth == 0 && v == collectionApplication && haveUsage && !haveApplication {
					haveApplication = true
					info.usagePage, info.usage = usage>>16, usage&0xFFFF
				}
				depth++
			case tagEndCollection:
				if depth == 0 {
					return descriptorInfo{}, fmt.Errorf("%w: End Collection without Collection", errDescriptor)
				}
				depth--
			case tagInput:
				inputBits += uint64(size) * uint64(count)
			case tagOutput:
				outputBits += uint64(size) * uint64(count)
			}
			if inputBits > maxReportBits || outputBits > maxReportBits {
				return descriptorInfo{}, fmt.Errorf("%w: reports larger than %d bytes", errDescriptor, maxReportBits/8)
			}
			haveUsage = false
		}
	}
	if depth != 0 {
		return descriptorInfo{}, fmt.Errorf("%w: unterminated collection", errDescriptor)
	}
	info.inputBits, info.outputBits = int(inputBits), int(outputBits)
	return info, nil
}
