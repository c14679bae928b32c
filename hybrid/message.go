package hybrid

import (
	"fmt"
	"slices"
)

// Message types: the first byte of every frame after the post-handshake
// message (CTAP 2.2 §11.5; Chromium MessageType).
const (
	MsgShutdown byte = 0 // client: no more requests
	MsgCTAP     byte = 1 // a CTAP2 request or response
	MsgUpdate   byte = 2 // authenticator: new linking information
)

// postHandshake is the authenticator's first encrypted message, a CBOR
// map (Chromium fido_tunnel_device.cc).
type postHandshake struct {
	GetInfo  []byte   `cbor:"1,keyasint,omitempty"` // the getInfo response, without status
	Linking  any      `cbor:"2,keyasint,omitempty"` // optional linking information (state-assisted)
	Features []string `cbor:"3,keyasint,omitempty"` // optional: what the channel carries ("ctap", "dc")
}

func encodePostHandshake(getInfo []byte) ([]byte, error) {
	return encMode.Marshal(postHandshake{GetInfo: getInfo})
}

// decodePostHandshake returns the getInfo response the authenticator
// sent. Without a features list CTAP is implied; with one, it must list
// "ctap" (vauth's client speaks nothing else).
func decodePostHandshake(b []byte) ([]byte, error) {
	var m postHandshake
	if err := decMode.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: post-handshake message: %v", ErrFrame, err)
	}
	if m.Features != nil && !slices.Contains(m.Features, "ctap") {
		return nil, fmt.Errorf("%w: authenticator does not offer CTAP", ErrFrame)
	}
	if m.Linking != nil {
		if _, ok := m.Linking.(map[any]any); !ok {
			return nil, fmt.Errorf("%w: linking information is not a map", ErrFrame)
		}
	}
	if len(m.GetInfo) == 0 {
		return nil, fmt.Errorf("%w: post-handshake message lacks getInfo", ErrFrame)
	}
	return m.GetInfo, nil
}
