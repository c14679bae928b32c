package ctap1

// command is a request APDU taken apart (ISO 7816-4 §5.1). Le, the
// response length the host expects, is parsed and ignored: U2F over HID
// always answers with the whole response.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
}

// Sizes of the APDU encodings.
const (
	headerSize     = 4 // CLA INS P1 P2
	shortLeSize    = 1
	extendedLcSize = 3 // 0x00 Lc1 Lc2, or 0x00 Le1 Le2 without data
	extendedLeSize = 2
	extendedMarker = 0x00 // first body byte of the extended encoding
	claU2F         = 0x00 // the only CLA of U2F
)

// parseCommand decodes a request APDU. U2F over HID uses the extended-length
// encoding (FIDO U2F Raw Message Formats §3.1): CLA INS P1 P2, then
// 0x00 Lc1 Lc2 and the data, then optionally Le1 Le2; without data, either
// nothing or 0x00 Le1 Le2. python-fido2 also sends an Lc of zero followed by
// Le. The short encoding (Lc of one byte from 1 to 255, Le of one byte),
// which U2F uses over NFC and some hosts send anyway, is accepted as well.
// A request shorter than its header, or whose lengths do not add up, is
// SW_WRONG_LENGTH; any CLA other than 0x00 is SW_CLA_NOT_SUPPORTED.
func parseCommand(apdu []byte) (command, error) {
	if len(apdu) < headerSize {
		return command{}, statusErrorf(SWWrongLength, "APDU of %d bytes, shorter than its header", len(apdu))
	}
	c := command{cla: apdu[0], ins: apdu[1], p1: apdu[2], p2: apdu[3]}
	if c.cla != claU2F {
		return command{}, statusErrorf(SWCLANotSupported, "CLA 0x%02x", c.cla)
	}
	body := apdu[headerSize:]
	switch {
	case len(body) == 0, len(body) == shortLeSize:
		// No data; no Le, or a short Le.
	case body[0] != extendedMarker:
		// Short: Lc, the data, and perhaps Le.
		lc := int(body[0])
		rest := body[1:]
		if len(rest) != lc && len(rest) != lc+shortLeSize {
			return command{}, statusErrorf(SWWrongLength, "short Lc %d with %d bytes after it", lc, len(rest))
		}
		c.data = rest[:lc]
	case len(body) == extendedLcSize:
		// Extended, no data: 0x00 Le1 Le2.
	case len(body) > extendedLcSize:
		// Extended: 0x00 Lc1 Lc2, the data, and perhaps Le1 Le2.
		lc := int(body[1])<<8 | int(body[2])
		rest := body[extendedLcSize:]
		if len(rest) != lc && len(rest) != lc+extendedLeSize {
			return command{}, statusErrorf(SWWrongLength, "extended Lc %d with %d bytes after it", lc, len(rest))
		}
		c.data = rest[:lc]
	default:
		return command{}, statusErrorf(SWWrongLength, "APDU body of %d bytes starting 0x00", len(body))
	}
	return c, nil
}
