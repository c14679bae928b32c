package hybrid

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// BlueZ names (BlueZ doc/org.bluez.LEAdvertisingManager.rst and
// org.bluez.LEAdvertisement.rst).
const (
	bluezService        = "org.bluez"
	bluezAdvertIface    = "org.bluez.LEAdvertisement1"
	bluezManagerIface   = "org.bluez.LEAdvertisingManager1"
	bluezDefaultAdapter = "/org/bluez/hci0"
	// serviceUUID128 is ServiceUUID in the Bluetooth base UUID.
	serviceUUID128 = "0000fff9-0000-1000-8000-00805f9b34fb"
)

// BlueZ advertises through the Linux Bluetooth daemon over D-Bus: a
// non-connectable broadcast whose service data for ServiceUUID is the
// advert, registered with the adapter's LEAdvertisingManager1.
type BlueZ struct {
	// Adapter is the adapter's object path; empty: /org/bluez/hci0.
	Adapter string
}

var advertSeq atomic.Uint64

// advertisement is the exported org.bluez.LEAdvertisement1 object.
type advertisement struct{}

// Release is called by BlueZ when it drops the advertisement.
func (advertisement) Release() *dbus.Error { return nil }

// Advertise implements Advertiser.
func (b BlueZ) Advertise(ctx context.Context, serviceData []byte) (func(), error) {
	adapter := b.Adapter
	if adapter == "" {
		adapter = bluezDefaultAdapter
	}
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("hybrid: BlueZ: system bus: %w", err)
	}
	path := dbus.ObjectPath(fmt.Sprintf("/dev/vauth/hybrid/advert%d", advertSeq.Add(1)))
	if err := conn.Export(advertisement{}, path, bluezAdvertIface); err != nil {
		conn.Close()
		return nil, err
	}
	props := prop.Map{bluezAdvertIface: {
		"Type":        {Value: "broadcast"},
		"ServiceData": {Value: map[string]dbus.Variant{serviceUUID128: dbus.MakeVariant(serviceData)}},
	}}
	if _, err := prop.Export(conn, path, props); err != nil {
		conn.Close()
		return nil, err
	}
	mgr := conn.Object(bluezService, dbus.ObjectPath(adapter))
	if err := mgr.CallWithContext(ctx, bluezManagerIface+".RegisterAdvertisement", 0, path, map[string]dbus.Variant{}).Err; err != nil {
		conn.Close()
		return nil, fmt.Errorf("hybrid: BlueZ: RegisterAdvertisement on %s: %w", adapter, err)
	}
	return func() {
		mgr.Call(bluezManagerIface+".UnregisterAdvertisement", 0, path)
		conn.Close()
	}, nil
}
