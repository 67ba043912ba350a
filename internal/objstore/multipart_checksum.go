package objstore

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"strings"
)

// Checksum types of a multipart upload's object checksum.
const (
	// ChecksumComposite is the checksum of the parts' checksums, with
	// "-N" for N parts after its value.
	ChecksumComposite = "COMPOSITE"
	// ChecksumFullObject is the checksum of the whole content, as if it had
	// been uploaded at once; only the CRC algorithms can be combined so.
	ChecksumFullObject = "FULL_OBJECT"
)

// Checksum errors of multipart uploads.
var (
	// ErrChecksumMismatch: a checksum the request gave is not the
	// content's (S3's BadDigest).
	ErrChecksumMismatch = errors.New("objstore: checksum does not match the content")
	// ErrChecksumRequest: the request's checksums do not fit the upload's
	// algorithm or type (S3's InvalidRequest); the wrapping message says
	// why.
	ErrChecksumRequest = errors.New("objstore: checksum does not fit the upload")
)

// crcPoly is a reflected CRC polynomial and its width in bits.
type crcPoly struct {
	poly  uint64
	width uint
}

var nvmeTable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumHashes are the algorithms of x-amz-checksum-*, by name.
var checksumHashes = map[string]func() hash.Hash{
	"CRC32":     func() hash.Hash { return crc32.NewIEEE() },
	"CRC32C":    func() hash.Hash { return crc32.New(castagnoli) },
	"CRC64NVME": func() hash.Hash { return crc64.New(nvmeTable) },
	"SHA1":      sha1.New,
	"SHA256":    sha256.New,
}

// crcPolys are the CRC algorithms, which can be combined.
var crcPolys = map[string]crcPoly{
	"CRC32":     {0xedb88320, 32},
	"CRC32C":    {0x82f63b78, 32},
	"CRC64NVME": {0x9a6c9329ac4bc9b5, 64},
}

// ChecksumType checks a multipart upload's checksum algorithm and type and
// returns the type, defaulted as S3 does: FULL_OBJECT for CRC64NVME,
// COMPOSITE for the others. An unknown algorithm or a type the algorithm
// cannot have is ErrChecksumRequest.
func ChecksumType(algorithm, typ string) (string, error) {
	if _, ok := checksumHashes[algorithm]; !ok {
		return "", fmt.Errorf("%w: Checksum algorithm %q is not one of CRC32, CRC32C, CRC64NVME, SHA1, SHA256", ErrChecksumRequest, algorithm)
	}
	_, crc := crcPolys[algorithm]
	switch typ {
	case "":
		if algorithm == "CRC64NVME" {
			return ChecksumFullObject, nil
		}
		return ChecksumComposite, nil
	case ChecksumFullObject:
		if !crc {
			return "", fmt.Errorf("%w: The FULL_OBJECT checksum type cannot be used with the %s checksum algorithm.", ErrChecksumRequest, strings.ToLower(algorithm))
		}
	case ChecksumComposite:
		if algorithm == "CRC64NVME" {
			return "", fmt.Errorf("%w: The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.", ErrChecksumRequest)
		}
	default:
		return "", fmt.Errorf("%w: Value for x-amz-checksum-type header is invalid.", ErrChecksumRequest)
	}
	return typ, nil
}

// newChecksum returns a hash of the named algorithm, nil for "".
func newChecksum(algorithm string) hash.Hash {
	if f := checksumHashes[algorithm]; f != nil {
		return f()
	}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// compositeChecksum is the checksum of the parts' raw checksums, with
// "-N".
func compositeChecksum(algorithm string, parts []string) (string, error) {
	h := newChecksum(algorithm)
	for i, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			return "", fmt.Errorf("%w: part %d checksum %q", ErrCorrupt, i+1, p)
		}
		h.Write(raw)
	}
	return b64(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// fullChecksum combines the parts' CRCs into the CRC of their joined
// content.
func fullChecksum(algorithm string, parts []string, sizes []int64) (string, error) {
	p := crcPolys[algorithm]
	var crc uint64
	for i, s := range parts {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != int(p.width/8) {
			return "", fmt.Errorf("%w: part %d checksum %q", ErrCorrupt, i+1, s)
		}
		var v uint64
		if p.width == 32 {
			v = uint64(binary.BigEndian.Uint32(raw))
		} else {
			v = binary.BigEndian.Uint64(raw)
		}
		if i == 0 {
			crc = v
		} else {
			crc = p.combine(crc, v, sizes[i])
		}
	}
	out := make([]byte, p.width/8)
	if p.width == 32 {
		binary.BigEndian.PutUint32(out, uint32(crc))
	} else {
		binary.BigEndian.PutUint64(out, crc)
	}
	return b64(out), nil
}

// combine returns the CRC of A followed by B from crc1 = CRC(A), crc2 =
// CRC(B) and len2 = len(B), by applying len2 zero bytes to crc1 with
// squared GF(2) operator matrices (the method of zlib's crc32_combine,
// for any reflected CRC with all-ones initial and final values).
func (p crcPoly) combine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	w := p.width
	even := make([]uint64, w) // operator for an even power of two zero bits
	odd := make([]uint64, w)
	odd[0] = p.poly // one zero bit
	row := uint64(1)
	for n := uint(1); n < w; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even, odd) // two zero bits
	gf2Square(odd, even) // four zero bits
	for {
		gf2Square(even, odd) // one zero byte, then 4, 16...
		if len2&1 != 0 {
			crc1 = gf2Times(even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd, even)
		if len2&1 != 0 {
			crc1 = gf2Times(odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat []uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}
