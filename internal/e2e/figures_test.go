package e2e

import (
	"slices"
	"testing"
	"time"
)

// TestFigures measures what a user waits for, for the record (logged, not
// asserted): from starting `vauth run` to libfido2 listing the key, and the
// wall time of one fido2-assert -G next to one fido2-token -I, whose
// ratio is the cost of an assertion over a bare CTAPHID round trip plus the
// tool's own start-up.
func TestFigures(t *testing.T) {
	tools := requireFido2Tools(t)
	const restarts, rounds = 5, 10
	store := t.TempDir()
	v := startVauth(t, store)
	first := v.listed
	c := makeCredential(t, tools, v.hidraw, "figures.example.org", "es256", false)
	v.stop(t)

	var listed []time.Duration
	for range restarts {
		v = startVauth(t, store)
		listed = append(listed, v.listed)
		v.stop(t)
	}
	v = startVauth(t, store)
	var assert, info []time.Duration
	for range rounds {
		start := time.Now()
		a := getAssertion(t, tools, v.hidraw, c)
		assert = append(assert, time.Since(start))
		if err := verifyAssertion(t, tools, a, c.publicKey, c.alg); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		run(t, "", nil, tools.token, "-I", v.hidraw)
		info = append(info, time.Since(start))
	}
	ma, mi := median(assert), median(info)
	t.Logf("vauth run to fido2-token -L listing the device: %v on a new store, median %v over %d restarts (min %v, max %v)",
		first.Round(time.Millisecond), median(listed).Round(time.Millisecond), restarts, slices.Min(listed).Round(time.Millisecond), slices.Max(listed).Round(time.Millisecond))
	t.Logf("median of %d: fido2-assert -G %v, fido2-token -I %v, ratio %.2f",
		rounds, ma.Round(time.Millisecond), mi.Round(time.Millisecond), float64(ma)/float64(mi))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
