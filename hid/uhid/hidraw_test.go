//go:build linux

package uhid

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseUevent(t *testing.T) {
	// As the kernel wrote it for a device made by Create.
	const real = "DRIVER=hid-generic\nHID_ID=0003:00001209:00000001\nHID_NAME=vauth FIDO2 security key\nHID_PHYS=\nHID_UNIQ=SER-1\nMODALIAS=hid:b0003g0001v00001209p00000001\n"
	tests := []struct {
		name    string
		uevent  string
		want    hidIdentity
		wantErr bool
	}{
		{"device", real, hidIdentity{bus: 3, vendor: 0x1209, product: 1, name: "vauth FIDO2 security key", uniq: "SER-1"}, false},
		{"phys and '=' in name", "HID_ID=0005:0000ABCD:FFFFFFFF\nHID_NAME=a=b\nHID_PHYS=p/1\n", hidIdentity{bus: 5, vendor: 0xabcd, product: 0xffffffff, name: "a=b", phys: "p/1"}, false},
		{"no HID_ID", "HID_NAME=x\n", hidIdentity{}, true},
		{"HID_ID with two fields", "HID_ID=0003:00001209\n", hidIdentity{}, true},
		{"HID_ID not hex", "HID_ID=0003:0000120G:00000001\n", hidIdentity{}, true},
		{"bus too wide", "HID_ID=10003:00001209:00000001\n", hidIdentity{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUevent([]byte(tc.uevent))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseUevent error = %v, want error %t", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseUevent = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOpenError(t *testing.T) {
	tests := []struct {
		errno unix.Errno
		want  error
	}{
		{unix.ENOENT, ErrNotFound},
		{unix.ENODEV, ErrNotFound},
		{unix.ENXIO, ErrNotFound},
		{unix.EACCES, ErrPermission},
		{unix.EPERM, ErrPermission},
		{unix.EMFILE, nil},
	}
	for _, tc := range tests {
		err := openError(tc.errno)
		if !errors.Is(err, tc.errno) {
			t.Errorf("openError(%v) = %v, does not wrap the errno", tc.errno, err)
		}
		for _, sentinel := range []error{ErrNotFound, ErrPermission} {
			if errors.Is(err, sentinel) != (sentinel == tc.want) {
				t.Errorf("openError(%v) = %v; errors.Is(%v) = %t", tc.errno, err, sentinel, !(sentinel == tc.want))
			}
		}
	}
}

// TestCreateUnavailable runs where /dev/uhid is missing (kernels without
// CONFIG_UHID) or not accessible (a user without the udev rule), and checks
// that Create says which.
func TestCreateUnavailable(t *testing.T) {
	var want error
	switch err := unix.Access(devicePath, unix.R_OK|unix.W_OK); {
	case errors.Is(err, unix.ENOENT):
		want = ErrNotFound
	case errors.Is(err, unix.EACCES):
		want = ErrPermission
	default:
		t.Skipf("%s is usable here (access: %v)", devicePath, err)
	}
	d, err := Create(Config{Uniq: "x"})
	if err == nil {
		d.Close()
		t.Fatal("Create succeeded")
	}
	if !errors.Is(err, want) {
		t.Errorf("Create error = %v, want %v", err, want)
	}
	t.Log(err)
}

func TestCreateInvalidConfig(t *testing.T) {
	d, err := Create(Config{})
	if err == nil {
		d.Close()
		t.Fatal("Create succeeded without a serial")
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("Create error = %v, want ErrConfig", err)
	}
}
