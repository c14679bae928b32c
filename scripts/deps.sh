#!/bin/bash
# Installs what the tests need on a fresh Debian/Ubuntu machine: Debian
# packages (real clients, swtpm, the VM for kernel tests) and Go tools.
# Idempotent and quiet when everything is already there.
set -euo pipefail

PKGS=(
  python3-fido2            # real client over the virtual cable and hidraw
  fido2-tools              # libfido2's fido2-token/-cred/-assert
  openssh-client           # ssh-keygen -t ecdsa-sk / ed25519-sk
  swtpm swtpm-tools tpm2-tools
  dbus-daemon              # a real session bus for the notification prompt
  pinentry-curses          # a real pinentry for the presence prompt
  linux-libc-dev           # the kernel's uhid.h, to check vauth's event layout
  qemu-system-x86 busybox-static kmod cpio   # the VM for /dev/uhid tests
  chromium                 # a real browser with the uhid key (internal/e2e TestBrowser)
  bluez bluez-test-tools   # bluetoothd and btvirt for the hybrid advert in the VM (bluez-vm-test)
)
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=; [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

GOBIN=$(go env GOPATH)/bin
if ! "$GOBIN/staticcheck" -version 2>/dev/null | grep -q "(0.8.2)"; then
  echo "deps: installing staticcheck"
  go install "$STATICCHECK"
fi
