package ctap2

// ServeHID is serveHID for the tests of package ctap2_test.
var ServeHID = serveHID
