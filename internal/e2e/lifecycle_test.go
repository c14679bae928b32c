package e2e

// The device's life: destroyed when vauth stops, the same key (serial and
// credentials) after a restart on the same store, one process per store,
// and clear errors where /dev/uhid is missing or out of reach.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/testenv"
)

func TestStopAndRestart(t *testing.T) {
	tools := requireFido2Tools(t)
	store := t.TempDir()
	v := startVauth(t, store)
	creds := []credential{
		makeCredential(t, tools, v.hidraw, "restart.example.org", "es256", false),
		makeCredential(t, tools, v.hidraw, "restart-rk.example.org", "eddsa", true),
	}

	v.stop(t)
	if _, err := os.Stat(v.hidraw); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after SIGTERM: %v, want it gone", v.hidraw, err)
	}
	if nodes := listTokens(t, tools.token); slices.Contains(nodes, v.hidraw) {
		t.Errorf("fido2-token -L still lists %s after SIGTERM: %v", v.hidraw, nodes)
	}

	again := startVauth(t, store)
	if again.serial != v.serial {
		t.Errorf("serial after restart %s, want %s (the same key for udev and browsers)", again.serial, v.serial)
	}
	for _, c := range creds {
		if err := verifyAssertion(t, tools, getAssertion(t, tools, again.hidraw, c), c.publicKey, c.alg); err != nil {
			t.Errorf("%s credential of %s made before the restart: %v", c.alg, c.rpID, err)
		}
	}
}

func TestSecondRunSameStore(t *testing.T) {
	tools := requireFido2Tools(t)
	store := t.TempDir()
	v := startVauth(t, store)

	_, stderr, err := runResult(t, "", nil, vauthBin, "run", "--store", store, "--keystore", "soft", "--transport", "uhid", "--presence", "always")
	if exitCode(err) <= 0 {
		t.Fatalf("second vauth run on %s: %v, want a non-zero exit\n%s", store, err, stderr)
	}
	for _, want := range []string{store, fmt.Sprintf("pid %d", v.cmd.Process.Pid)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("second vauth run's message lacks %q:\n%s", want, stderr)
		}
	}
	// The first process's device is untouched.
	run(t, "", nil, tools.token, "-I", v.hidraw)
}

// TestRunUnprivileged runs vauth as nobody, who may not open /dev/uhid
// without the udev rule.
func TestRunUnprivileged(t *testing.T) {
	requireUhid(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run vauth as the user nobody (make vm-test runs it as root in the VM)")
	}
	const nobody = 65534
	// With its groups cleared, nobody gets the permission bits for others.
	if fi, err := os.Stat(uhidPath); err != nil || fi.Mode().Perm()&0o006 == 0o006 {
		t.Skipf("%s is open to every user here (%v), so there is nothing to refuse", uhidPath, err)
	}
	setpriv := requireTool(t, "setpriv", "util-linux")
	// nobody needs to reach the binary and the store: both go under fresh
	// directories in the shared temporary directory, not t.TempDir's 0700
	// parent.
	dir, err := os.MkdirTemp("", "vauth-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, store := filepath.Join(dir, "vauth"), filepath.Join(dir, "store")
	if err := copyFile(vauthBin, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(os.Chmod(dir, 0o755), os.Chown(store, nobody, nobody)); err != nil {
		t.Fatal(err)
	}

	_, stderr, err := runResult(t, "", nil, setpriv, "--reuid", fmt.Sprint(nobody), "--regid", fmt.Sprint(nobody), "--clear-groups", "--",
		bin, "run", "--store", store, "--keystore", "soft", "--presence", "always")
	if exitCode(err) <= 0 {
		t.Fatalf("vauth run as nobody: %v, want a non-zero exit\n%s", err, stderr)
	}
	for _, want := range []string{"no read-write access to /dev/uhid", "udev rule", "--transport unix:PATH"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("vauth run as nobody: message lacks %q:\n%s", want, stderr)
		}
	}
}

// TestRunWithoutUhid checks the message of vauth run on a kernel without
// /dev/uhid: where it exists, a private mount namespace hides it.
func TestRunWithoutUhid(t *testing.T) {
	args := []string{vauthBin, "run", "--store", t.TempDir(), "--keystore", "soft", "--presence", "always"}
	if _, err := os.Stat(uhidPath); err == nil {
		hide := hideDev(t)
		args = append(hide, args...)
	}
	_, stderr, err := runResult(t, "", nil, args[0], args[1:]...)
	if exitCode(err) <= 0 {
		t.Fatalf("%s: %v, want a non-zero exit\n%s", strings.Join(args, " "), err, stderr)
	}
	for _, want := range []string{"/dev/uhid not found", "modprobe uhid", "--transport unix:PATH"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("vauth run without %s: message lacks %q:\n%s", uhidPath, want, stderr)
		}
	}
}

// hideDev returns a command prefix that runs its arguments in a private
// mount namespace with an empty /dev, or skips the test where that is not
// allowed (an unprivileged user without user namespaces).
func hideDev(t *testing.T) []string {
	t.Helper()
	unshare := requireTool(t, "unshare", "util-linux")
	hide := []string{unshare, "--mount"}
	if os.Geteuid() != 0 {
		hide = append(hide, "--map-root-user") // a user namespace lets a user mount
	}
	hide = append(hide, "--", "sh", "-c", `mount -t tmpfs none /dev && exec "$@"`, "sh")
	probe := append(slices.Clone(hide), "test", "!", "-e", uhidPath)
	if out, err := exec.Command(probe[0], probe[1:]...).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 && testenv.Required() {
			t.Fatalf("cannot hide %s in a mount namespace: %v\n%s", uhidPath, err, out)
		}
		t.Skipf("cannot hide %s in a mount namespace here: %v\n%s", uhidPath, err, out)
	}
	return hide
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
