package main

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// credProtectNames are the credProtect levels (CTAP 2.1 §12.1).
var credProtectNames = map[int]string{
	1: "userVerificationOptional",
	2: "userVerificationOptionalWithCredentialIDList",
	3: "userVerificationRequired",
}

// credentialList is `creds list --json`.
type credentialList struct {
	Credentials []credential `json:"credentials"`
}

func newCredsCmd(g *globals) *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "List, show, delete and rename the discoverable credentials (passkeys)",
		Long: "Inspect and manage the discoverable credentials the authenticator holds: vauth's\n" +
			"store (through the running vauth when there is one), or with --device any security\n" +
			"key, through CTAP2 credential management with its PIN.",
	}
	tf.register(cmd)
	cmd.AddCommand(newCredsListCmd(g, &tf), newCredsShowCmd(g, &tf), newCredsDeleteCmd(g, &tf), newCredsRenameCmd(g, &tf))
	return cmd
}

// sorted orders credentials by RP, user name, creation and ID, for stable
// listings.
func sorted(all []credential) []credential {
	slices.SortStableFunc(all, func(a, b credential) int {
		return cmp.Or(cmp.Compare(a.RPID, b.RPID), cmp.Compare(a.UserName, b.UserName),
			timeCmp(a.Created, b.Created), cmp.Compare(a.ID.String(), b.ID.String()))
	})
	return all
}

func timeCmp(a, b *time.Time) int {
	switch {
	case a == nil || b == nil:
		return 0
	}
	return a.Compare(*b)
}

func newCredsListCmd(g *globals, tf *targetFlags) *cobra.Command {
	var rp, user string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the credentials: RP, user, ID, algorithm, credProtect, created, last used, counter",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, all, err := tf.openCredentials(cmd, g)
			if err != nil {
				return err
			}
			defer t.Close()
			shown := []credential{}
			for _, c := range sorted(all) {
				if (rp == "" || c.RPID == rp) && (user == "" || c.UserName == user || c.UserDisplayName == user) {
					c.PublicKey = nil // creds show has it
					shown = append(shown, c)
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), credentialList{Credentials: shown})
			}
			printCredentials(cmd.OutOrStdout(), shown)
			return nil
		},
	}
	cmd.Flags().StringVar(&rp, "rp", "", "only the credentials of this RP ID")
	cmd.Flags().StringVar(&user, "user", "", "only the credentials of this user name (or display name)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printCredentials prints the credentials table.
func printCredentials(w io.Writer, all []credential) {
	if len(all) == 0 {
		fmt.Fprintln(w, "no discoverable credentials")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RP\tUSER\tDISPLAY NAME\tID\tALG\tBACKEND\tPROTECT\tDISC\tCREATED\tLAST USED\tCOUNTER")
	for _, c := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			c.RPID, dash(c.UserName), dash(c.UserDisplayName), c.short(), dash(c.AlgorithmName), c.Backend,
			c.CredProtect, yesNo(c.Discoverable), when(c.Created), when(c.LastUsed), counter(c.SignCount))
	}
	tw.Flush()
}

func dash(s string) string { return cmp.Or(s, "-") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// when shows a time in the local zone to the minute; "-" when unknown or
// never.
func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func counter(n *uint32) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

func newCredsShowCmd(g *globals, tf *targetFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show everything about one credential, with its public key as PEM, JWK, COSE and OpenSSH",
		Long: "Show one credential, named by its ID in base64url or a unique prefix of it (the ID\n" +
			"column of creds list): its RP, user, algorithm, protection, times, counter, and its\n" +
			"public key as PEM, JWK and COSE, and as an OpenSSH public key line for an ssh: key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, c, err := tf.openCredential(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer t.Close()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), c)
			}
			printCredential(cmd.OutOrStdout(), c)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printCredential(w io.Writer, c credential) {
	row := func(k, v string) { fmt.Fprintf(w, "%-18s %s\n", k, v) }
	row("credential ID", c.ID.String())
	row("RP", c.RPID)
	row("user ID", c.UserID.String())
	row("user name", dash(c.UserName))
	row("display name", dash(c.UserDisplayName))
	row("discoverable", yesNo(c.Discoverable))
	row("credProtect", fmt.Sprintf("%d (%s)", c.CredProtect, credProtectNames[c.CredProtect]))
	row("backend", c.Backend)
	row("created", when(c.Created))
	row("last used", when(c.LastUsed))
	row("signature counter", counter(c.SignCount))
	if c.LargeBlobKey {
		row("largeBlobKey", "yes")
	}
	k := c.PublicKey
	if k == nil {
		row("algorithm", dash(c.AlgorithmName))
		row("public key", "(not available)")
		return
	}
	row("algorithm", fmt.Sprintf("%s (%s)", k.AlgorithmName, k.Description))
	row("COSE", hex.EncodeToString(k.COSE))
	row("JWK", k.JWKJSON())
	if k.SSH != "" {
		row("OpenSSH", k.SSH)
	}
	fmt.Fprint(w, k.PEM)
}

// confirm asks on the terminal; --yes answers for scripts. Without a
// terminal and without --yes it refuses, so a script never hangs.
func confirm(cmd *cobra.Command, yes bool, question string) error {
	if yes {
		return nil
	}
	src := &pinSource{in: cmd.InOrStdin(), out: cmd.ErrOrStderr()}
	if !src.isTerminal() {
		return usageError{errors.New("not confirmed: there is no terminal to ask on; give --yes")}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("not confirmed: nothing was changed")
	}
	return nil
}

func newCredsDeleteCmd(g *globals, tf *targetFlags) *cobra.Command {
	var rp string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete (ID | --rp RPID)",
		Short: "Delete one credential, or every credential of an RP",
		Args: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (rp != "") || len(args) > 1 {
				return usageError{errors.New("give one credential ID or --rp RPID")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			t, all, err := tf.openCredentials(cmd, g)
			if err != nil {
				return err
			}
			defer t.Close()
			var doomed []credential
			if rp != "" {
				if doomed = credentialsOf(all, rp); len(doomed) == 0 {
					return statusError{exitNotFound, fmt.Errorf("no credentials for RP %s", rp)}
				}
			} else {
				c, err := findCredential(all, args[0])
				if err != nil {
					return err
				}
				doomed = []credential{c}
			}
			printCredentials(cmd.ErrOrStderr(), doomed)
			question := fmt.Sprintf("Delete this credential from %s? Its user can no longer sign in with it.", t.where())
			if len(doomed) > 1 {
				question = fmt.Sprintf("Delete these %d credentials from %s? Their users can no longer sign in with them.", len(doomed), t.where())
			}
			if err := confirm(cmd, yes, question); err != nil {
				return err
			}
			for _, c := range doomed {
				if err := t.deleteCredential(cmd.Context(), c); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s (%s, %s)\n", c.ID, c.RPID, dash(c.UserName))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rp, "rp", "", "delete every credential of this RP ID")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newCredsRenameCmd(g *globals, tf *targetFlags) *cobra.Command {
	var name, displayName string
	cmd := &cobra.Command{
		Use:   "rename ID [--name NAME] [--display-name NAME]",
		Short: "Change a credential's user name and display name (updateUserInformation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("name") && !cmd.Flags().Changed("display-name") {
				return usageError{errors.New("give --name, --display-name or both")}
			}
			t, c, err := tf.openCredential(cmd, g, args[0])
			if err != nil {
				return err
			}
			defer t.Close()
			if !cmd.Flags().Changed("name") {
				name = c.UserName
			}
			if !cmd.Flags().Changed("display-name") {
				displayName = c.UserDisplayName
			}
			if err := t.updateUser(cmd.Context(), c, name, displayName); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "renamed %s: %s (%s)\n", c.ID, name, displayName)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the new user name")
	cmd.Flags().StringVar(&displayName, "display-name", "", "the new display name")
	return cmd
}
