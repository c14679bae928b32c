package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/internal/audit"
)

func newLogCmd(g *globals) *cobra.Command {
	var (
		follow, asJSON bool
		since, op      string
	)
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show the audit log: registrations, sign-ins, deletions and resets",
		Long: "Show the audit log that vauth writes in its store (" + audit.FileName + ", JSON lines): the\n" +
			"time, operation, relying party, user, credential, the AAGUID and attestation format\n" +
			"of each registration, the UP and UV flags and counter of each sign-in, and the result.\n" +
			"--since takes a duration (24h), a date (2006-01-02) or a time (RFC 3339).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.storeDir()
			if err != nil {
				return err
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return usageError{err}
			}
			p := &logPrinter{w: cmd.OutOrStdout(), json: asJSON, op: op}
			if !follow {
				records, bad, err := audit.Read(dir, from)
				if err != nil {
					return err
				}
				if bad > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "vauth: %d lines of the audit log are not records; skipped\n", bad)
				}
				for _, r := range records {
					if err := p.print(r); err != nil {
						return err
					}
				}
				if !p.printed && !asJSON {
					fmt.Fprintln(cmd.OutOrStdout(), "no audit records")
				}
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return audit.Follow(ctx, dir, from, p.print)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing records as they are written, until interrupted")
	cmd.Flags().StringVar(&since, "since", "", "only records from this time on: a duration ago (24h), a date or an RFC 3339 time")
	cmd.Flags().StringVar(&op, "op", "", "only records of this operation: registered, asserted, deleted or reset")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON lines")
	return cmd
}

// parseSince reads --since: a duration before now, a date (local
// midnight) or an RFC 3339 time; "" is the beginning.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("--since " + s + ": want a duration (24h), a date (2006-01-02) or an RFC 3339 time")
}

// logPrinter prints records as a table (header first) or JSON lines. Its
// columns have fixed widths, so that followed records line up.
type logPrinter struct {
	w       io.Writer
	json    bool
	op      string
	printed bool
}

const logFormat = "%-19s  %-10s  %-24s  %-24s  %-12s  %-36s  %-8s  %-5s  %7s  %s\n"

// fit cuts s to n characters, marking the cut.
func fit(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (p *logPrinter) print(r audit.Record) error {
	if p.op != "" && r.Operation != p.op {
		return nil
	}
	if p.json {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	if !p.printed {
		fmt.Fprintf(p.w, logFormat, "TIME", "OP", "RP", "USER", "CREDENTIAL", "AAGUID", "FORMAT", "FLAGS", "COUNTER", "RESULT")
		p.printed = true
	}
	var flags []string
	if r.UP {
		flags = append(flags, "UP")
	}
	if r.UV {
		flags = append(flags, "UV")
	}
	id := b64(r.CredentialID).String()
	if len(id) > shortIDLen {
		id = id[:shortIDLen]
	}
	count := "-"
	if r.Operation == "registered" || r.Operation == "asserted" {
		count = fmt.Sprint(r.SignCount)
	}
	_, err := fmt.Fprintf(p.w, logFormat, r.Time.Local().Format("2006-01-02 15:04:05"), r.Operation, fit(dash(r.RPID), 24), fit(dash(r.UserName), 24),
		dash(id), dash(r.AAGUID), dash(r.AttestationFormat), dash(strings.Join(flags, ",")), count, r.Result)
	return err
}
