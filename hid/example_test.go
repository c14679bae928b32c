package hid_test

import (
	"context"
	"fmt"

	"github.com/vauth/vauth/hid"
)

// authenticator stands for a CTAP2 authenticator such as ctap2.Authenticator.
type authenticator struct{}

func (authenticator) HandleCBOR(ctx context.Context, req []byte, keepalive hid.Keepalive) []byte {
	return []byte{0x00} // CTAP2_OK, no parameters
}

// A device served on an in-memory pipe, and a client talking CTAPHID to it.
func ExamplePipe() {
	host, dev := hid.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hid.NewDevice(authenticator{}, hid.WithVersion(1, 0, 0)).Serve(ctx, dev)

	c, err := hid.NewClient(host)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	major, minor, build := c.DeviceVersion()
	fmt.Printf("device %d.%d.%d, CBOR %t, U2F %t\n", major, minor, build,
		c.Capabilities()&hid.CapabilityCBOR != 0, c.Capabilities()&hid.CapabilityNMSG == 0)

	resp, err := c.CBOR(ctx, []byte{0x04}, nil) // authenticatorGetInfo
	fmt.Printf("% x %v\n", resp, err)

	err = c.Lock(ctx, 11)
	fmt.Println(err)
	// Output:
	// device 1.0.0, CBOR true, U2F false
	// 00 <nil>
	// ctaphid: device answered ERR_INVALID_PAR
}
