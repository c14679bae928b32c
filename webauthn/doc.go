// Package webauthn is a WebAuthn client: the part a browser plays between a
// relying party and an authenticator. Given the options JSON a relying party
// sends and the page's origin, it checks the RP ID against the origin, builds
// clientDataJSON, runs the CTAP2 ceremony on any authenticator reachable
// through CTAPHID (in-process pipe, the virtual cable, hidraw), and returns
// the PublicKeyCredential JSON a browser's toJSON() produces, so relying
// parties can test their server code without a browser.
package webauthn
