package bench

import "testing"

// TestScale measures the smallest point of the scale curve (make scale
// measures them all): the store is populated, and the daemon's answers at
// this size are checked (counts, RPs, credentials of an RP) as they are
// timed.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := MeasureScale(t.Context(), bin, t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
}
