// Package presence holds the ways vauth asks a person to confirm that they
// are there (CTAP user presence): approve-always and deny-always for CI, a
// terminal prompt, a desktop notification with Allow/Deny buttons, and a
// pinentry dialog. Each implements ctap2.Presence. Auto picks the best one
// the session offers, New maps the CLI's --presence flag to one, and Dedupe
// merges the identical requests that browsers retry after a cancel.
//
// Every prompt names the operation, the site (RP ID) and the account. Those
// strings come from the relying party, so they are cleaned of control and
// formatting characters and shortened before they are shown.
package presence
