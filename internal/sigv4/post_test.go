package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

// policySignature signs a POST policy as a browser form's signer does,
// independently of the verifier's key cache.
func policySignature(secret, day, region, service, policy string) string {
	key := []byte("AWS4" + secret)
	for _, p := range []string{day, region, service, "aws4_request", policy} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p))
		key = m.Sum(nil)
	}
	return hex.EncodeToString(key)
}

func TestVerifyPolicy(t *testing.T) {
	v := newVerifier()
	policy := base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2024-05-25T00:00:00Z","conditions":[{"bucket":"b"}]}`))
	cred := testKey + "/20240524/us-east-1/s3/aws4_request"
	sig := policySignature(testSecret, "20240524", "us-east-1", "s3", policy)
	id, err := v.VerifyPolicy(cred, "20240524T120000Z", policy, sig)
	if err != nil || id.AccessKeyID != testKey || id.Region != "us-east-1" || id.Service != "s3" || id.Date != "20240524" || !id.Time.Equal(testNow) {
		t.Fatalf("VerifyPolicy: %+v, %v", id, err)
	}
	tests := []struct {
		name                    string
		cred, date, policy, sig string
		kind                    Kind
	}{
		{"other policy", cred, "20240524T120000Z", policy + "=", sig, Mismatch},
		{"other signature", cred, "20240524T120000Z", policy, policySignature("other", "20240524", "us-east-1", "s3", policy), Mismatch},
		{"signature not hex", cred, "20240524T120000Z", policy, "zz", Mismatch},
		{"unknown key", "AKIDOTHER/20240524/us-east-1/s3/aws4_request", "20240524T120000Z", policy, sig, UnknownKey},
		{"short credential", "AKIDEXAMPLE/20240524/us-east-1/s3", "20240524T120000Z", policy, sig, Malformed},
		{"date of another day", cred, "20240525T120000Z", policy, sig, Malformed},
		{"date malformed", cred, "2024-05-24", policy, sig, Malformed},
	}
	for _, tt := range tests {
		_, err := v.VerifyPolicy(tt.cred, tt.date, tt.policy, tt.sig)
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.kind {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.kind)
		}
	}
}

func TestNewChecksum(t *testing.T) {
	h, name, ok := NewChecksum("crc32c")
	if !ok || name != "CRC32C" {
		t.Fatalf("NewChecksum(crc32c): %q %v", name, ok)
	}
	h.Write([]byte("data"))
	want, _ := Checksum("CRC32C", []byte("data"))
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("crc32c: %s, want %s", got, want)
	}
	if _, _, ok := NewChecksum("MD5"); ok {
		t.Fatal("MD5 is not a checksum algorithm S3 takes")
	}
}
