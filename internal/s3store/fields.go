package s3store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// What several requests to the store carry alike, set from objstore's
// terms into the fields of whichever request it is.

// optional is a parameter left out when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checksumFields are the x-amz-checksum-* fields of a request.
type checksumFields struct{ crc32, crc32c, crc64nvme, sha1, sha256 **string }

// set gives each algorithm of sums its field.
func (f checksumFields) set(sums map[string]string) {
	for alg, v := range sums {
		var p **string
		switch alg {
		case "CRC32":
			p = f.crc32
		case "CRC32C":
			p = f.crc32c
		case "CRC64NVME":
			p = f.crc64nvme
		case "SHA1":
			p = f.sha1
		case "SHA256":
			p = f.sha256
		default:
			continue
		}
		*p = aws.String(v)
	}
}

// setCondition sets If-None-Match and If-Match from the write condition
// ctx carries.
func setCondition(ctx context.Context, ifNoneMatch, ifMatch **string) {
	if c := objstore.WriteConditionOf(ctx); c != nil {
		if c.IfNoneMatch {
			*ifNoneMatch = aws.String("*")
		}
		*ifMatch = optional(c.IfMatch)
	}
}

// setEncryption sets a write's encryption: SSE-S3, or SSE-C with the key.
func setEncryption(e objstore.Encryption, sse *types.ServerSideEncryption, alg, key, keyMD5 **string) {
	switch e.Mode {
	case objstore.SSES3:
		*sse = types.ServerSideEncryptionAes256
	case objstore.SSECustomer:
		k := customerKey(e.CustomerKey)
		*alg, *key, *keyMD5 = k.alg, k.key, k.md5
	}
}

// setLock sets a write's Object Lock: its retention and legal hold.
func setLock(r objstore.Retention, hold bool, mode *types.ObjectLockMode, until **time.Time, legal *types.ObjectLockLegalHoldStatus) {
	if r.Mode != "" {
		*mode = types.ObjectLockMode(r.Mode)
		*until = aws.Time(r.Until)
	}
	if hold {
		*legal = types.ObjectLockLegalHoldStatusOn
	}
}
