package sigv4

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
)

// crc64NVME is the CRC-64/NVME polynomial in the reversed form hash/crc64
// takes; with crc64's initial and final inversion it is the checksum S3
// calls CRC64NVME.
const crc64NVME = 0x9a6c9329ac4bc9b5

var (
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
	nvmeTable       = crc64.MakeTable(crc64NVME)
)

// checksumAlg is one of the x-amz-checksum-* algorithms.
type checksumAlg struct {
	name   string // as in x-amz-sdk-checksum-algorithm: CRC32, CRC32C, ...
	header string // lower-case header name
	size   int    // digest bytes
	new    func() hash.Hash
}

var checksumAlgs = []checksumAlg{
	{"CRC32", "x-amz-checksum-crc32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", 4, func() hash.Hash { return crc32.New(castagnoliTable) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", 8, func() hash.Hash { return crc64.New(nvmeTable) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.Size, sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.Size, sha256.New},
}

// checksumByHeader finds an algorithm by its header name, in any case.
func checksumByHeader(name string) *checksumAlg {
	for i := range checksumAlgs {
		if strings.EqualFold(checksumAlgs[i].header, name) {
			return &checksumAlgs[i]
		}
	}
	return nil
}

// checksumByName finds an algorithm by its name, in any case.
func checksumByName(name string) *checksumAlg {
	for i := range checksumAlgs {
		if strings.EqualFold(checksumAlgs[i].name, name) {
			return &checksumAlgs[i]
		}
	}
	return nil
}

// decodeChecksum decodes a base64 checksum value of the algorithm's size.
func (a *checksumAlg) decode(v string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != a.size {
		return nil, false
	}
	return b, true
}

// Checksum returns the base64 value of the named checksum algorithm
// (CRC32, CRC32C, CRC64NVME, SHA1 or SHA256) over data, the form the
// x-amz-checksum-* headers carry. ok is false for an unknown algorithm.
func Checksum(algorithm string, data []byte) (value string, ok bool) {
	a := checksumByName(algorithm)
	if a == nil {
		return "", false
	}
	h := a.new()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), true
}

// sumCheck is one checksum computed over a body and compared at its end.
type sumCheck struct {
	alg  *checksumAlg
	h    hash.Hash
	want []byte // nil until a trailer supplies it
}

// headerChecksums finds the x-amz-checksum-* headers of a request. At most
// one is allowed, and its value must decode to the algorithm's size.
func headerChecksums(h http.Header) ([]*sumCheck, *PayloadError) {
	var out []*sumCheck
	for name, vals := range h {
		if !strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") {
			continue
		}
		a := checksumByHeader(name)
		if a == nil {
			if strings.EqualFold(name, "x-amz-checksum-type") || strings.EqualFold(name, "x-amz-checksum-algorithm") {
				continue
			}
			return nil, payloadError(codeInvalidRequest, "The algorithm type you specified in "+strings.ToLower(name)+" header is invalid.")
		}
		want, ok := a.decode(strings.Join(vals, ","))
		if !ok || len(vals) != 1 {
			return nil, payloadError(codeInvalidRequest, "Value for "+a.header+" header is invalid.")
		}
		out = append(out, &sumCheck{alg: a, h: a.new(), want: want})
	}
	if len(out) > 1 {
		return nil, payloadError(codeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	return out, nil
}
