#!/bin/bash
# Runs hybrid's BlueZ test (TestCeremonyOverBlueZ) where there is no
# Bluetooth: inside a VM (../shared/tools/run-in-vm.sh), btvirt makes two
# virtual LE controllers on one emulated air, bluetoothd drives them, and
# the hybrid ceremony runs with its advert sent through BlueZ on hci0 and
# received through BlueZ on hci1. Needs bluez and bluez-test-tools (btvirt)
# on the host, whose root the VM shares.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
VM=$root/../shared/tools/run-in-vm.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/vauth-bluez.XXXXXX")
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/hybrid.test" ./hybrid
cat > "$work/guest.sh" <<'GUEST'
set -eu
modprobe hci_vhci
# btvirt's emulated controllers do their crypto through AF_ALG.
for m in af_alg algif_hash algif_skcipher cmac ecb; do modprobe $m || true; done
# The guest's /dev may lack the misc node: vhci is misc minor 137.
[ -e /dev/vhci ] || mknod /dev/vhci c 10 137
mkdir -p /run/dbus
dbus-daemon --system --fork
btvirt -L -l2 >/tmp/btvirt.log 2>&1 &
for _ in $(seq 50); do [ -e /sys/class/bluetooth/hci1 ] && break; sleep 0.1; done
/usr/libexec/bluetooth/bluetoothd -n >/tmp/bluetoothd.log 2>&1 &
sleep 2
btmgmt -i hci0 power on >/dev/null
btmgmt -i hci1 power on >/dev/null
status=0
VAUTH_BLUEZ=hci0,hci1 "$1" -test.run 'TestCeremonyOverBlueZ' -test.v -test.timeout 3m || status=$?
[ $status = 0 ] || { echo "--- bluetoothd"; cat /tmp/bluetoothd.log; echo "--- btvirt"; cat /tmp/btvirt.log; btmgmt -i hci0 info; btmgmt -i hci1 info; }
exit $status
GUEST
cd "$root/hybrid"
"$VM" --timeout 600 -- sh "$work/guest.sh" "$work/hybrid.test"
