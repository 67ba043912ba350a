package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
)

// VerifyPolicy checks the signature of a browser POST form (S3's POST
// Object), which signs no request but its policy document: signature is
// the lower-case hex HMAC-SHA256 of policy (the form's base64 policy field,
// as sent) under the signing key of credential
// ("AKID/YYYYMMDD/region/service/aws4_request"), and amzDate is the
// form's x-amz-date, whose day must be the credential's. The form's own
// policy expiration, not the clock skew of a signed request, bounds when
// it may be used, so no time is checked here.
//
// Failures are returned as *Error: Malformed, UnknownKey or Mismatch.
// The Identity's PayloadHash is empty: the policy, not the body, is
// signed.
func (v *Verifier) VerifyPolicy(credential, amzDate, policy, signature string) (Identity, error) {
	var a auth
	if e := parseCredential(credential, &a); e != nil {
		return Identity{}, e
	}
	if e := checkDate(amzDate, a.date); e != nil {
		return Identity{}, e
	}
	t, _ := parseAmzDate(amzDate)
	var secret string
	var known bool
	if v.Lookup != nil {
		secret, known = v.Lookup(a.accessKey)
	}
	if !known {
		return Identity{}, unknownKeyError(a.service)
	}
	var want [sha256.Size]byte
	if !decodeHex(&want, signature) {
		return Identity{}, mismatchError(a.service)
	}
	key := v.keys.get(secret, a.date, a.region, a.service)
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(policy))
	var got [sha256.Size]byte
	m.Sum(got[:0])
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return Identity{}, mismatchError(a.service)
	}
	return Identity{AccessKeyID: a.accessKey, Region: a.region, Service: a.service, Date: a.date, Time: t}, nil
}

// NewChecksum returns a new hash for the named x-amz-checksum-*
// algorithm (CRC32, CRC32C, CRC64NVME, SHA1 or SHA256, in any case) and
// the algorithm's name as S3 writes it, for a caller that checks a
// checksum over content it streams itself (a POST form's file). ok is
// false for an unknown algorithm.
func NewChecksum(algorithm string) (h hash.Hash, name string, ok bool) {
	a := checksumByName(algorithm)
	if a == nil {
		return nil, "", false
	}
	return a.new(), a.name, true
}
