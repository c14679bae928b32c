// Command benchtable runs vauth's benchmarks once each and prints them as
// ratios to their floors, measured in the same run, followed by the
// daemon's start-up time and memory on an empty store and with 10k and 100k
// discoverable credentials: `make bench`. With -scale it prints instead how
// the daemon's start-up, operations and memory grow with the store, at 1k,
// 10k and 100k discoverable credentials: `make scale`.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/internal/bench"
	"github.com/vauth/vauth/keystore"
)

type row struct {
	name   string
	run    func(*testing.B)
	floor  string
	target float64 // 0: reported only
	// paired, when set, measures the row and its floor side by side
	// (bench.Paired) instead of run against floors[floor].
	paired func(*testing.B)
}

func main() {
	testing.Init()
	scale := flag.Bool("scale", false, "print the scale curve instead of the benchmark table")
	sizes := flag.String("sizes", "1000,10000,100000", "with -scale: the store sizes, in discoverable credentials")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "vauth-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	bin, err := bench.Build(tmp)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	if *scale {
		var ns []int
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < bench.AccountsPerRP {
				fail(fmt.Errorf("-sizes: %q is not a number of at least %d", s, bench.AccountsPerRP))
			}
			ns = append(ns, n)
		}
		if err := printScale(ctx, bin, tmp, ns); err != nil {
			fail(err)
		}
		return
	}
	if !printBench(ctx, bin, tmp) {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(2)
}

// rounds is how many times each row and its floor are measured, alternately:
// the ratio compares their medians, taken under the same conditions, which a
// shared 2-core machine does not keep for long.
const rounds = 3

// printBench prints the benchmark table; false when a ratio missed its
// target.
func printBench(ctx context.Context, bin, tmp string) bool {
	floors := map[string]func(*testing.B){
		"TPM2_Sign (swtpm)":             bench.TPMSign,
		"TPM2_CreateLoaded RSA (swtpm)": bench.TPMCreateRSA,
		"PING round trip (pipe)":        bench.Ping,
		"GetAssertion (soft, pipe)":     bench.GetAssertion,
	}
	rows := []row{
		soft(keystore.ES256, "ECDSA P-256 sign"),
		soft(keystore.EdDSA, "Ed25519 sign"),
		soft(keystore.ES384, "ECDSA P-384 sign"),
		soft(keystore.ES512, "ECDSA P-521 sign"),
		soft(keystore.RS256, "RSA-2048 PKCS#1 v1.5 sign"),
		soft(keystore.PS256, "RSA-2048 PSS sign"),
		soft(keystore.ES256K, "ECDSA secp256k1 sign"),
		{name: "MakeCredential (soft, pipe, packed)", floor: "ECDSA P-256 sign", target: 2.5,
			paired: bench.Paired(bench.MakeCredentialOp, bench.BareSignOp(keystore.ES256))},
		tpmRow(keystore.ES256, "TPM2_Sign (swtpm)"),
		{"MakeCredential (tpm/swtpm, tpm att.)", bench.MakeCredentialTPM, "TPM2_Sign (swtpm)", 0, nil},
		tpmRow(keystore.ES384, "TPM2_Sign P-384 (swtpm)"),
		tpmRow(keystore.ES512, "TPM2_Sign P-521 (swtpm)"),
		tpmRow(keystore.RS256, "TPM2_Sign RSASSA (swtpm)"),
		tpmRow(keystore.PS256, "TPM2_Sign RSAPSS (swtpm)"),
		// RSA key generation is a prime search: its time varies widely
		// from key to key, so the ratio is a figure, not a target.
		{"MakeCredential RS256 (tpm/swtpm)", bench.MakeCredentialTPMAlg(keystore.RS256), "TPM2_CreateLoaded RSA (swtpm)", 0, nil},
		{"PING round trip (virtual cable)", bench.PingCable, "PING round trip (pipe)", 0, nil},
		{"GetAssertion (soft, virtual cable)", bench.GetAssertionCable, "GetAssertion (soft, pipe)", 0, nil},
	}
	fmt.Printf("%-38s %12s %10s  %7s %-27s %12s  %s\n", "benchmark", "ns/op", "allocs/op", "ratio", "to", "its ns/op", "target")
	ok := true
	for _, r := range rows {
		var ns, allocs, baseNs int64
		var ratio float64
		if r.paired != nil {
			res := measurePaired(r.paired)
			ns, allocs, baseNs = int64(res.Extra["op-ns"]), int64(res.Extra["op-allocs"]), int64(res.Extra["floor-ns"])
			ratio = res.Extra["ratio"]
		} else {
			res, base := measure(r.run, floors[r.floor])
			ns, allocs, baseNs = res.NsPerOp(), res.AllocsPerOp(), base.NsPerOp()
			ratio = float64(ns) / float64(baseNs)
		}
		target := "-"
		if r.target > 0 {
			target = fmt.Sprintf("<= %.1fx", r.target)
			if ratio > r.target {
				target += " MISSED"
				ok = false
			}
		}
		fmt.Printf("%-38s %12d %10d  %6.2fx %-27s %12d  %s\n", r.name, ns, allocs, ratio, r.floor, baseNs, target)
	}

	// The daemon: `vauth run` as users run it, on stores of three sizes.
	empty := filepath.Join(tmp, "empty")
	d, err := bench.StartDaemonMedian(bin, empty)
	if err != nil {
		fail(err)
	}
	mem, err := d.Memory()
	if stopErr := d.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		fail(err)
	}
	fmt.Println()
	fmt.Printf("%-38s %12s  %s\n", "vauth run (soft keystore)", "start-up", "RSS after start-up / after a getAssertion and enumerating every RP")
	fmt.Printf("%-38s %12s  %v\n", "empty store", ms(d.StartUp), mem)
	for _, n := range []int{10_000, 100_000} {
		p, err := bench.MeasureDaemon(ctx, bin, filepath.Join(tmp, strconv.Itoa(n)), n)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%-38s %12s  %v / %v\n", fmt.Sprintf("%dk discoverable credentials", n/1000), ms(p.StartUp), p.MemStart, p.MemEnd)
	}
	return ok
}

// printScale prints the scale curve: one column per store size.
func printScale(ctx context.Context, bin, tmp string, sizes []int) error {
	var points []bench.ScalePoint
	for _, n := range sizes {
		p, err := bench.MeasureScale(ctx, bin, filepath.Join(tmp, strconv.Itoa(n)), n)
		if err != nil {
			return fmt.Errorf("%d credentials: %w", n, err)
		}
		points = append(points, p)
	}
	fmt.Printf("%-52s", fmt.Sprintf("discoverable credentials (%d per RP)", bench.AccountsPerRP))
	for _, p := range points {
		fmt.Printf(" %12d", p.N)
	}
	fmt.Println()
	line := func(name string, f func(p bench.ScalePoint) string) {
		fmt.Printf("%-52s", name)
		for _, p := range points {
			fmt.Printf(" %12s", f(p))
		}
		fmt.Println()
	}
	dur := func(name string, f func(p bench.ScalePoint) time.Duration) {
		line(name, func(p bench.ScalePoint) string { return ms(f(p)) })
	}
	dur("populate the store (CreateMany)", func(p bench.ScalePoint) time.Duration { return p.Populate })
	dur("vauth run start-up", func(p bench.ScalePoint) time.Duration { return p.StartUp })
	dur("getInfo", func(p bench.ScalePoint) time.Duration { return p.GetInfo })
	dur("getAssertion, RP with 100 accounts", func(p bench.ScalePoint) time.Duration { return p.GetAssertion })
	dur("credMgmt getCredsMetadata", func(p bench.ScalePoint) time.Duration { return p.CredsMetadata })
	dur("credMgmt enumerate every RP", func(p bench.ScalePoint) time.Duration { return p.EnumerateRPs })
	dur("credMgmt enumerate one RP's 100 credentials", func(p bench.ScalePoint) time.Duration { return p.EnumerateCredentials })
	dur("credMgmt deleteCredential", func(p bench.ScalePoint) time.Duration { return p.DeleteCredential })
	line("vauth creds list --json", func(p bench.ScalePoint) string {
		if p.CredsList == 0 {
			return "n/a"
		}
		return ms(p.CredsList)
	})
	mem := func(name string, f func(p bench.ScalePoint) int64) {
		line(name, func(p bench.ScalePoint) string { return fmt.Sprintf("%.1f MiB", mib(f(p))) })
	}
	mem("RSS after start-up", func(p bench.ScalePoint) int64 { return p.MemStart.RSS })
	mem("  of which anonymous (not the mapped binary and store)", func(p bench.ScalePoint) int64 { return p.MemStart.Anon })
	mem("RSS after the operations above", func(p bench.ScalePoint) int64 { return p.MemEnd.RSS })
	mem("  of which anonymous", func(p bench.ScalePoint) int64 { return p.MemEnd.Anon })
	fmt.Println("without the keystore's indexes (listing every credential, in process):")
	dur("  getInfo", func(p bench.ScalePoint) time.Duration { return p.Listing.GetInfo })
	dur("  credMgmt getCredsMetadata", func(p bench.ScalePoint) time.Duration { return p.Listing.CredsMetadata })
	dur("  credMgmt enumerateRPsBegin", func(p bench.ScalePoint) time.Duration { return p.Listing.EnumerateRPsBegin })
	dur("  credMgmt deleteCredential", func(p bench.ScalePoint) time.Duration { return p.Listing.DeleteCredential })
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// measure runs a and its floor alternately, rounds times each, and returns
// the median result of each.
func measure(a, floor func(*testing.B)) (testing.BenchmarkResult, testing.BenchmarkResult) {
	var as, fs []testing.BenchmarkResult
	for range rounds {
		as = append(as, testing.Benchmark(a))
		fs = append(fs, testing.Benchmark(floor))
	}
	return median(as), median(fs)
}

// measurePaired runs a bench.Paired benchmark rounds times and returns the
// result of median ratio.
func measurePaired(paired func(*testing.B)) testing.BenchmarkResult {
	var rs []testing.BenchmarkResult
	for range rounds {
		rs = append(rs, testing.Benchmark(paired))
	}
	slices.SortFunc(rs, func(x, y testing.BenchmarkResult) int { return cmp.Compare(x.Extra["ratio"], y.Extra["ratio"]) })
	return rs[len(rs)/2]
}

// soft is the row of an assertion of alg on the soft keystore through the
// pipe, measured side by side with its bare signature, floor.
func soft(alg int, floor string) row {
	return row{name: assertionRow(alg, "soft"), floor: floor, target: 1.5, paired: bench.Paired(bench.GetAssertionOp(alg), bench.BareSignOp(alg))}
}

// tpmRow is the row of an assertion of alg on the TPM keystore (swtpm)
// through the pipe, measured side by side with a bare TPM2_Sign, floor.
func tpmRow(alg int, floor string) row {
	return row{name: assertionRow(alg, "tpm/swtpm"), floor: floor, target: 1.3, paired: bench.Paired(bench.GetAssertionTPMOp(alg), bench.TPMSignOp(alg))}
}

// assertionRow names the row of an assertion of alg on keystore.
func assertionRow(alg int, keystoreName string) string {
	if alg == keystore.ES256 {
		return "GetAssertion (" + keystoreName + ", pipe)"
	}
	return "GetAssertion " + keystore.AlgorithmName(alg) + " (" + keystoreName + ", pipe)"
}

func median(rs []testing.BenchmarkResult) testing.BenchmarkResult {
	slices.SortFunc(rs, func(x, y testing.BenchmarkResult) int { return cmp.Compare(x.NsPerOp(), y.NsPerOp()) })
	return rs[len(rs)/2]
}
