// Command benchtable runs vauth's benchmarks once each and prints them as
// ratios to their floors, measured in the same run: `make bench`.
package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/vauth/vauth/internal/bench"
)

type row struct {
	name   string
	run    func(*testing.B)
	floor  string
	target float64 // 0: reported only
}

func main() {
	testing.Init()
	floors := map[string]testing.BenchmarkResult{
		"ECDSA P-256 sign":  testing.Benchmark(bench.ECDSASign),
		"TPM2_Sign (swtpm)": testing.Benchmark(bench.TPMSign),
	}
	rows := []row{
		{"GetAssertion (soft, pipe)", bench.GetAssertion, "ECDSA P-256 sign", 1.5},
		{"MakeCredential (soft, pipe, packed)", bench.MakeCredential, "ECDSA P-256 sign", 2.5},
		{"GetAssertion (soft, virtual cable)", bench.GetAssertionCable, "GetAssertion (soft, pipe)", 0},
		{"GetAssertion (tpm/swtpm, pipe)", bench.GetAssertionTPM, "TPM2_Sign (swtpm)", 1.3},
		{"MakeCredential (tpm/swtpm, tpm att.)", bench.MakeCredentialTPM, "TPM2_Sign (swtpm)", 0},
	}
	results := map[string]testing.BenchmarkResult{}
	fmt.Printf("%-38s %12s %10s  %-28s %s\n", "benchmark", "ns/op", "allocs/op", "ratio to", "target")
	for _, name := range []string{"ECDSA P-256 sign", "TPM2_Sign (swtpm)"} {
		f := floors[name]
		fmt.Printf("%-38s %12d %10d  %-28s\n", name, f.NsPerOp(), f.AllocsPerOp(), "(floor)")
	}
	failed := false
	for _, r := range rows {
		res := testing.Benchmark(r.run)
		results[r.name] = res
		base, ok := floors[r.floor]
		if !ok {
			base = results[r.floor]
		}
		ratio := float64(res.NsPerOp()) / float64(base.NsPerOp())
		target := "-"
		if r.target > 0 {
			target = fmt.Sprintf("<= %.1fx", r.target)
			if ratio > r.target {
				target += " MISSED"
				failed = true
			}
		}
		fmt.Printf("%-38s %12d %10d  %5.2fx %-21s %s\n", r.name, res.NsPerOp(), res.AllocsPerOp(), ratio, r.floor, target)
	}
	if failed {
		os.Exit(1)
	}
}
