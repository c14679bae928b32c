#!/bin/bash
# Runs the tests that need a kernel with /dev/uhid — ./hid/uhid and
# ./internal/e2e — with VAUTH_E2E_REQUIRED=1, so that none of them skips:
#   - natively where /dev/uhid is usable: by this user (vauth's udev rule),
#     as root (after modprobe uhid), or through passwordless sudo (a CI
#     runner);
#   - otherwise inside a small VM with Debian's kernel,
#     ../shared/tools/run-in-vm.sh (one VM per test binary, both at once).
# vauth and the test binaries are built here once and run as built; the
# uhid tests with -race, vauth without, so that the e2e figures are real. VMTEST_ARGS adds go test flags (e.g. VMTEST_ARGS=-test.run=TestOpenSSH).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
VM=$root/../shared/tools/run-in-vm.sh
PKGS=(hid/uhid internal/e2e)
read -r -a extra <<< "${VMTEST_ARGS:-}"

usable() { [[ -c /dev/uhid && -r /dev/uhid && -w /dev/uhid ]]; }

# Where the tests run: natively (as this user or through sudo) or in the VM.
runner=()
if usable; then
  where="natively"
elif [[ $(id -u) == 0 ]] && modprobe -q uhid && modprobe -q hid-generic && usable; then
  where="natively, after modprobe uhid"
elif [[ $(id -u) != 0 ]] && sudo -n modprobe -q uhid 2>/dev/null && sudo -n modprobe -q hid-generic && [[ -c /dev/uhid ]]; then
  where="natively, as root through sudo"
  runner=(sudo -n)
elif [[ -x $VM ]]; then
  where="in a VM ($VM)"
else
  cat >&2 <<EOF
vm-test: cannot run the uhid tests: /dev/uhid is not usable here and $VM is missing.
  Either load uhid and give yourself access to it (sudo modprobe uhid, then vauth's
  udev rule and the uhid group, see README.md), run as root, or put the shared
  tools (run-in-vm.sh) beside this clone in ../shared.
EOF
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vauth-vm-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # the tests run vauth as the user nobody too
echo "vm-test: building vauth and the test binaries of ${PKGS[*]}"
go build -o "$work/vauth" ./cmd/vauth
go test -race -c -o "$work/uhid.test" ./hid/uhid
go test -c -o "$work/e2e.test" ./internal/e2e

echo "vm-test: running them $where"
env=(VAUTH_E2E_REQUIRED=1 "VAUTH_BIN=$work/vauth")
status=0
if [[ $where == in\ a\ VM* ]]; then
  # Both VMs at once; each test binary runs in its package directory (the
  # guest's working directory is the host's), its output kept apart.
  # The e2e VM gets a TPM (swtpm), which its TPM-store tests then require.
  pids=()
  for p in "${PKGS[@]}"; do
    vmargs=(--env "${env[0]}" --env "${env[1]}")
    [[ $p != internal/e2e ]] || vmargs+=(--tpm --env VAUTH_E2E_TPM_REQUIRED=1)
    (cd "$root/$p" && "$VM" "${vmargs[@]}" -- \
      "$work/${p##*/}.test" -test.v -test.count=1 -test.timeout=10m "${extra[@]}" \
      > "$work/${p##*/}.log" 2>&1) &
    pids+=($!)
  done
  for i in "${!PKGS[@]}"; do
    p=${PKGS[$i]} rc=0
    wait "${pids[$i]}" || rc=$?
    echo "=== ./$p (exit $rc)"
    cat "$work/${p##*/}.log"
    ((rc == 0)) || status=1
  done
else
  for p in "${PKGS[@]}"; do
    echo "=== ./$p"
    (cd "$root/$p" && "${runner[@]}" env "${env[@]}" \
      "$work/${p##*/}.test" -test.v -test.count=1 -test.timeout=10m "${extra[@]}") || status=1
  done
fi
if ((status)); then
  echo "vm-test: FAIL" >&2
else
  echo "vm-test: ok"
fi
exit $status
