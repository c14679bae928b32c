//go:build linux

package uhid

// CTAPHID over the real kernel HID stack: the hid package's device served on
// a uhid Device, and hosts (hid.Client over OpenHidraw, libfido2's
// fido2-token, python-fido2) talking to it through /dev/hidrawN.

import (
	"bytes"
	"context"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/internal/testenv"
)

var testAAGUID = [16]byte{0x76, 0x61, 0x75, 0x74, 0x68, 0x2d, 0x75, 0x68, 0x69, 0x64, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x21}

// getInfoResponse is a minimal authenticatorGetInfo response: status
// CTAP2_OK, then the CBOR map {1: ["FIDO_2_0"], 3: aaguid}.
var getInfoResponse = append([]byte{
	0x00,                                                     // CTAP2_OK
	0xa2,                                                     // map(2)
	0x01, 0x81, 0x68, 'F', 'I', 'D', 'O', '_', '2', '_', '0', // 1 (versions): ["FIDO_2_0"]
	0x03, 0x50, // 3 (aaguid): bytes(16)
}, testAAGUID[:]...)

const (
	ctapGetInfo            = 0x04
	ctap1ErrInvalidCommand = 0x01
)

// getInfoHandler answers authenticatorGetInfo and refuses everything else,
// which is all that hosts need to list and identify a key.
type getInfoHandler struct{}

func (getInfoHandler) HandleCBOR(_ context.Context, req []byte, _ hid.Keepalive) []byte {
	if len(req) == 1 && req[0] == ctapGetInfo {
		return getInfoResponse
	}
	return []byte{ctap1ErrInvalidCommand}
}

// serveCTAPHID creates a uhid device served by a CTAPHID device with
// getInfoHandler until the test ends, and returns its hidraw node.
func serveCTAPHID(t *testing.T) string {
	t.Helper()
	d, path, _ := newDevice(t, Config{}, reportDescriptor)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hid.NewDevice(getInfoHandler{}).Serve(ctx, d) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitLimit):
			t.Error("Serve did not return after its context ended")
		}
	})
	return path
}

func TestKernelCTAPHIDClient(t *testing.T) {
	path := serveCTAPHID(t)
	host, err := OpenHidraw(path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := hid.NewClient(host)
	if err != nil {
		t.Fatalf("NewClient (CTAPHID_INIT over hidraw): %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	// A one-packet ping and one that needs continuation packets both ways.
	for _, n := range []int{5, 1000} {
		data := bytes.Repeat([]byte{0xA5, 0x00, 0x5A}, n)[:n]
		got, err := client.Ping(ctx, data)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Ping(%d bytes) = %d bytes, %v; want the same bytes back", n, len(got), err)
		}
	}
	resp, err := client.CBOR(ctx, []byte{ctapGetInfo}, nil)
	if err != nil || !bytes.Equal(resp, getInfoResponse) {
		t.Errorf("CBOR(getInfo) = %x, %v; want %x", resp, err, getInfoResponse)
	}
}

// TestKernelFido2Token checks that libfido2 lists the device (it lists only
// USB devices with the FIDO usage page) and identifies it over CTAPHID.
func TestKernelFido2Token(t *testing.T) {
	requireUhid(t)
	tool, err := exec.LookPath("fido2-token")
	testenv.Require(t, err == nil, "fido2-token (Debian package fido2-tools)")
	path := serveCTAPHID(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitLimit)
	defer cancel()

	list, err := exec.CommandContext(ctx, tool, "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("fido2-token -L: %v\n%s", err, list)
	}
	if !strings.Contains(string(list), path+":") {
		t.Errorf("fido2-token -L does not list %s:\n%s", path, list)
	}
	info, err := exec.CommandContext(ctx, tool, "-I", path).CombinedOutput()
	if err != nil {
		t.Fatalf("fido2-token -I %s: %v\n%s", path, err, info)
	}
	for _, want := range []string{"proto: 0x02", "FIDO_2_0", hex.EncodeToString(testAAGUID[:])} {
		if !strings.Contains(string(info), want) {
			t.Errorf("fido2-token -I output lacks %q:\n%s", want, info)
		}
	}
	t.Logf("fido2-token -L:\n%sfido2-token -I:\n%s", list, info)
}

// TestKernelPythonFido2 checks that python-fido2's hidraw backend finds the
// device and pings it.
func TestKernelPythonFido2(t *testing.T) {
	requireUhid(t)
	const python = "/usr/bin/python3" // Debian's, which has python3-fido2
	testenv.Require(t, exec.Command(python, "-c", "import fido2.hid").Run() == nil, "python3-fido2 for "+python)
	path := serveCTAPHID(t)
	const script = `
import sys
from fido2.hid import CtapHidDevice
for dev in CtapHidDevice.list_devices():
    if dev.descriptor.path == sys.argv[1]:
        sys.stdout.write(dev.ping(b"vauth over uhid").decode())
        break
else:
    sys.exit("python-fido2 does not list " + sys.argv[1])
`
	ctx, cancel := context.WithTimeout(context.Background(), 6*waitLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", script, path).CombinedOutput()
	if err != nil || string(out) != "vauth over uhid" {
		t.Errorf("python-fido2 ping: %v\n%s", err, out)
	}
}
