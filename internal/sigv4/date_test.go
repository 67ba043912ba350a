package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

// TestVerifyDateHeader signs a request that carries its time in the
// standard Date header, with no X-Amz-Date, as some signers do: the signed
// time is Date's, in ISO-8601 basic form.
func TestVerifyDateHeader(t *testing.T) {
	const date = "Fri, 24 May 2024 12:00:00 GMT"
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	build := func(sent, signedAs string) *http.Request {
		r, err := http.NewRequest("GET", "http://localhost:9001/bucket/key", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Date", sent)
		r.Header.Set("X-Amz-Content-Sha256", emptyHash)
		canon := "GET\n/bucket/key\n\ndate:" + signedAs + "\nhost:localhost:9001\nx-amz-content-sha256:" + emptyHash +
			"\n\ndate;host;x-amz-content-sha256\n" + emptyHash
		sum := sha256.Sum256([]byte(canon))
		scope := "20240524/us-east-1/s3/aws4_request"
		sts := "AWS4-HMAC-SHA256\n20240524T120000Z\n" + scope + "\n" + hex.EncodeToString(sum[:])
		k := mac(mac(mac(mac([]byte("AWS4"+testSecret), "20240524"), "us-east-1"), "s3"), "aws4_request")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/"+scope+
			", SignedHeaders=date;host;x-amz-content-sha256, Signature="+hex.EncodeToString(mac(k, sts)))
		return r
	}
	id, err := newVerifier().Verify(build(date, date), "")
	if err != nil {
		t.Fatalf("Date-signed request refused: %v", err)
	}
	if !id.Time.Equal(testNow) {
		t.Fatalf("signed time %v, want %v", id.Time, testNow)
	}
	// The Date the signature covers is the one sent: another fails.
	if _, err := newVerifier().Verify(build("Fri, 24 May 2024 12:00:01 GMT", date), ""); kindOf(err) != Mismatch {
		t.Fatalf("a changed Date header: %v, want a mismatch", err)
	}
	// An unparsable Date is a malformed date, as a bad X-Amz-Date is.
	if _, err := newVerifier().Verify(build("yesterday", "yesterday"), ""); kindOf(err) != Malformed {
		t.Fatalf("an unparsable Date: %v, want malformed", err)
	}
}
