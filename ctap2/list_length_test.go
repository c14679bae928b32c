package ctap2

import "testing"

func TestFittingListLength(t *testing.T) {
	for _, tc := range []struct{ maxMsgSize, idLen, want int }{
		{DefaultMaxMsgSize, 119, DefaultMaxCredentialCountInList}, // soft IDs on the CTAPHID maximum
		{1200, 119, 5}, // soft IDs within a hardware key's message size
		{1200, 155, 4}, // soft's longest IDs (ES512, the longest credBlob) on uhid
		{1200, 251, 2}, // TPM IDs
		{500, 251, 1},  // never less than one
		{1200, 17, 16}, // short IDs: capped at the default
	} {
		if got := fittingListLength(tc.maxMsgSize, tc.idLen); got != tc.want {
			t.Errorf("fittingListLength(%d, %d) = %d, want %d", tc.maxMsgSize, tc.idLen, got, tc.want)
		}
		// The promise: a full list of the longest IDs fits with room to spare.
		if n := fittingListLength(tc.maxMsgSize, tc.idLen); n > 1 && n*(tc.idLen+24)+400 > tc.maxMsgSize {
			t.Errorf("%d IDs of %d bytes overflow %d", n, tc.idLen, tc.maxMsgSize)
		}
	}
}
