package queues

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strings"
)

// md5Hex returns the hex MD5 of s, as SQS reports a message body's.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// attributesMD5 returns the MD5 SQS reports for a set of message (or
// message system) attributes, which the SDKs check: over the attributes
// sorted by name, each as its length-prefixed name, length-prefixed data
// type, a transport byte (1 for strings and numbers, 2 for binary) and
// the length-prefixed value. It is empty for no attributes.
func attributesMD5(attrs map[string]Attribute) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		a := attrs[name]
		writeField(h, []byte(name))
		writeField(h, []byte(a.DataType))
		if a.binary() {
			h.Write([]byte{2})
			writeField(h, a.BinaryValue)
		} else {
			h.Write([]byte{1})
			writeField(h, []byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// binary reports whether a carries a binary value (its data type is
// Binary or Binary.<label>).
func (a Attribute) binary() bool { return strings.HasPrefix(a.DataType, "Binary") }
