package uhid

import "fmt"

// Defaults for the zero fields of a Config.
const (
	// DefaultVendorID is the pid.codes vendor ID (0x1209), the open-source
	// shared USB vendor ID, so that vauth does not pose as any maker's key.
	DefaultVendorID = 0x1209
	// DefaultProductID is pid.codes' test product ID (0x0001). A release
	// that wants its own should register one with pid.codes.
	DefaultProductID = 0x0001
	// DefaultName is the HID device name that hosts show for the key.
	DefaultName = "vauth FIDO2 security key"
)

// Config describes the HID device Create makes. The zero value of every
// field except Uniq selects a default.
type Config struct {
	// VendorID and ProductID are the USB IDs the device reports; zero selects
	// DefaultVendorID and DefaultProductID.
	VendorID, ProductID uint16
	// Name is the device name (HID_NAME), printable ASCII of at most 127
	// bytes; empty selects DefaultName.
	Name string
	// Phys is the physical path (HID_PHYS), printable ASCII of at most 63
	// bytes; it may be empty.
	Phys string
	// Uniq is the serial number (HID_UNIQ): 1 to 63 printable ASCII
	// characters without spaces. Callers derive it from the keystore so that
	// it stays the same across restarts, which lets udev and browsers
	// recognise the same key again.
	Uniq string
	// Version is the device version (bcdDevice); Country the HID country
	// code. Zero is fine for both.
	Version, Country uint32
}

// withDefaults returns c with its zero fields defaulted, or an error naming
// the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.VendorID == 0 {
		c.VendorID = DefaultVendorID
	}
	if c.ProductID == 0 {
		c.ProductID = DefaultProductID
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	// The kernel's fields are NUL-terminated C strings, hence one byte less
	// than their size.
	fields := []struct {
		name, value string
		min, max    int
		lowest      byte // the lowest byte allowed; the highest is '~'
	}{
		{"Name", c.Name, 1, nameSize - 1, ' '},
		{"Phys", c.Phys, 0, physSize - 1, ' '},
		{"Uniq", c.Uniq, 1, uniqSize - 1, '!'},
	}
	for _, f := range fields {
		if len(f.value) < f.min || len(f.value) > f.max {
			return Config{}, fmt.Errorf("uhid: %w: %s must be %d to %d bytes long, got %d", ErrConfig, f.name, f.min, f.max, len(f.value))
		}
		for i := 0; i < len(f.value); i++ {
			if ch := f.value[i]; ch < f.lowest || ch > '~' {
				return Config{}, fmt.Errorf("uhid: %w: %s has byte %#02x at offset %d, outside %q to '~'", ErrConfig, f.name, ch, i, f.lowest)
			}
		}
	}
	return c, nil
}
