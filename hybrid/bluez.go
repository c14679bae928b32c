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

// Scan implements Scanner: LE discovery, reading
// the service data of devices BlueZ reports (InterfacesAdded for new
// devices, PropertiesChanged as adverts repeat).
func (b BlueZ) Scan(ctx context.Context, found func([]byte) bool) error {
	adapter := b.Adapter
	if adapter == "" {
		adapter = bluezDefaultAdapter
	}
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("hybrid: BlueZ: system bus: %w", err)
	}
	defer conn.Close()
	signals := make(chan *dbus.Signal, 64)
	conn.Signal(signals)
	for _, m := range [][]dbus.MatchOption{
		{dbus.WithMatchSender(bluezService), dbus.WithMatchInterface("org.freedesktop.DBus.ObjectManager"), dbus.WithMatchMember("InterfacesAdded")},
		{dbus.WithMatchSender(bluezService), dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged")},
	} {
		if err := conn.AddMatchSignal(m...); err != nil {
			return err
		}
	}
	ad := conn.Object(bluezService, dbus.ObjectPath(adapter))
	// No UUIDs filter: BlueZ matches it against advertised service UUID
	// lists, and the advert carries service data only.
	filter := map[string]dbus.Variant{
		"Transport":     dbus.MakeVariant("le"),
		"DuplicateData": dbus.MakeVariant(true),
	}
	if err := ad.CallWithContext(ctx, "org.bluez.Adapter1.SetDiscoveryFilter", 0, filter).Err; err != nil {
		return fmt.Errorf("hybrid: BlueZ: SetDiscoveryFilter on %s: %w", adapter, err)
	}
	if err := ad.CallWithContext(ctx, "org.bluez.Adapter1.StartDiscovery", 0).Err; err != nil {
		return fmt.Errorf("hybrid: BlueZ: StartDiscovery on %s: %w", adapter, err)
	}
	defer ad.Call("org.bluez.Adapter1.StopDiscovery", 0)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-signals:
			if data := serviceDataOf(s); data != nil && found(data) {
				return nil
			}
		}
	}
}

// serviceDataOf extracts the ServiceUUID service data from a BlueZ
// Device1 signal, or nil.
func serviceDataOf(s *dbus.Signal) []byte {
	var props map[string]dbus.Variant
	switch s.Name {
	case "org.freedesktop.DBus.ObjectManager.InterfacesAdded":
		if len(s.Body) == 2 {
			ifaces, _ := s.Body[1].(map[string]map[string]dbus.Variant)
			props = ifaces["org.bluez.Device1"]
		}
	case "org.freedesktop.DBus.Properties.PropertiesChanged":
		if len(s.Body) >= 2 {
			if iface, _ := s.Body[0].(string); iface == "org.bluez.Device1" {
				props, _ = s.Body[1].(map[string]dbus.Variant)
			}
		}
	}
	sd, ok := props["ServiceData"]
	if !ok {
		return nil
	}
	m, _ := sd.Value().(map[string]dbus.Variant)
	data, _ := m[serviceUUID128].Value().([]byte)
	return data
}
