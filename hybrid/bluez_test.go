package hybrid

import (
	"bytes"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestServiceDataOf reads the advert out of the two BlueZ signals that
// carry it, and ignores everything else. (BlueZ itself is not exercised:
// no Bluetooth here.)
func TestServiceDataOf(t *testing.T) {
	data := []byte{1, 2, 3}
	sd := dbus.MakeVariant(map[string]dbus.Variant{serviceUUID128: dbus.MakeVariant(data)})
	other := dbus.MakeVariant(map[string]dbus.Variant{"0000fe2c-0000-1000-8000-00805f9b34fb": dbus.MakeVariant(data)})
	for _, tc := range []struct {
		name string
		s    *dbus.Signal
		want []byte
	}{
		{"new device", &dbus.Signal{Name: "org.freedesktop.DBus.ObjectManager.InterfacesAdded", Body: []any{
			dbus.ObjectPath("/org/bluez/hci0/dev_1"), map[string]map[string]dbus.Variant{"org.bluez.Device1": {"ServiceData": sd}}}}, data},
		{"changed", &dbus.Signal{Name: "org.freedesktop.DBus.Properties.PropertiesChanged", Body: []any{
			"org.bluez.Device1", map[string]dbus.Variant{"ServiceData": sd}, []string{}}}, data},
		{"other UUID", &dbus.Signal{Name: "org.freedesktop.DBus.Properties.PropertiesChanged", Body: []any{
			"org.bluez.Device1", map[string]dbus.Variant{"ServiceData": other}, []string{}}}, nil},
		{"other interface", &dbus.Signal{Name: "org.freedesktop.DBus.Properties.PropertiesChanged", Body: []any{
			"org.bluez.Adapter1", map[string]dbus.Variant{"ServiceData": sd}, []string{}}}, nil},
		{"malformed", &dbus.Signal{Name: "org.freedesktop.DBus.ObjectManager.InterfacesAdded", Body: []any{42}}, nil},
		{"no body", &dbus.Signal{Name: "org.freedesktop.DBus.Properties.PropertiesChanged"}, nil},
	} {
		if got := serviceDataOf(tc.s); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, want %x", tc.name, got, tc.want)
		}
	}
}
