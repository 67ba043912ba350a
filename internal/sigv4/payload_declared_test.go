package sigv4

import (
	"net/http"
	"strings"
	"testing"
)

// TestDeclaredChecksums: the checksums of a request's headers are known
// before its payload is read.
func TestDeclaredChecksums(t *testing.T) {
	v := &Verifier{}
	r, _ := http.NewRequest("PUT", "http://s3.test/b/k", strings.NewReader("trailer"))
	r.Header.Set("X-Amz-Checksum-Crc32", "xpHcTg==")
	b, perr := v.Body(r, Identity{PayloadHash: "UNSIGNED-PAYLOAD"})
	if perr != nil {
		t.Fatal(perr)
	}
	if got := b.DeclaredChecksums(); got["CRC32"] != "xpHcTg==" || len(got) != 1 {
		t.Fatalf("declared %v", got)
	}
	if b.TrailerChecksum() {
		t.Fatal("a header checksum reported as a trailer's")
	}
}
