// Package traceid reads, writes and mints the trace headers that tie an
// invocation to the request that caused it: AWS X-Ray's
//
//	X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
//
// and the W3C Trace Context's
//
//	traceparent: 00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01
//
// which carry the same ids: a W3C trace id's 32 hex digits are an X-Ray
// root's 8 hex digits of epoch seconds followed by its 24 random ones.
// It also holds the sampling rule (Sampler). It has no dependencies
// beyond the standard library, so that every ingress and the Runtime
// API can use it.
package traceid

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"
)

// Decision is a header's sampling decision.
type Decision int8

// Sampling decisions.
const (
	Undecided  Decision = iota // no Sampled field, or Sampled=?
	Sampled                    // Sampled=1: record the trace
	NotSampled                 // Sampled=0: pass the id on, record nothing
)

// Header is a trace header's fields.
type Header struct {
	Root    string // 1-<8 hex epoch seconds>-<24 hex>
	Parent  string // 16 hex: the id of the segment the receiver's segments descend from; "" for none
	Sampled Decision
}

// Names of the headers.
const (
	XRayHeader  = "X-Amzn-Trace-Id"
	W3CHeader   = "Traceparent"
	maxHeaderLn = 256 // longer X-Amzn-Trace-Id values are not read
)

// Parse reads an X-Amzn-Trace-Id value. Field names are matched without
// regard to case; fields other than Root, Parent and Sampled (Lineage,
// Self) are passed over. ok is false unless it has a valid Root; an
// invalid Parent is dropped.
func Parse(s string) (h Header, ok bool) {
	if len(s) > maxHeaderLn {
		return Header{}, false
	}
	for s != "" {
		var field string
		field, s, _ = strings.Cut(s, ";")
		k, v, found := strings.Cut(field, "=")
		if !found {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Root"):
			if !ValidRoot(v) {
				return Header{}, false
			}
			h.Root = v
		case strings.EqualFold(k, "Parent"):
			if ValidID(v) {
				h.Parent = v
			}
		case strings.EqualFold(k, "Sampled"):
			switch v {
			case "1":
				h.Sampled = Sampled
			case "0":
				h.Sampled = NotSampled
			}
		}
	}
	if h.Root == "" {
		return Header{}, false
	}
	return h, true
}

// ParseTraceparent reads a W3C traceparent value: version 00 exactly, a
// later version (not ff) by its first four fields. The trace and parent
// ids may not be all zeros. The sampled flag (01) is the decision
// Sampled, its absence NotSampled.
func ParseTraceparent(s string) (h Header, ok bool) {
	// 2 version, 32 trace id, 16 parent id, 2 flags, 3 dashes.
	const n = 55
	if len(s) < n || s[2] != '-' || s[35] != '-' || s[52] != '-' || !isHex(s[:2]) || s[:2] == "ff" {
		return Header{}, false
	}
	if (s[:2] == "00" && len(s) != n) || (len(s) > n && s[n] != '-') {
		return Header{}, false
	}
	tid, pid, flags := s[3:35], s[36:52], s[53:55]
	if !isHex(tid) || !isHex(pid) || !isHex(flags) || allZero(tid) || allZero(pid) {
		return Header{}, false
	}
	h = Header{Root: "1-" + tid[:8] + "-" + tid[8:], Parent: pid, Sampled: NotSampled}
	if b, _ := hex.DecodeString(flags); b[0]&1 == 1 {
		h.Sampled = Sampled
	}
	return h, true
}

// String returns h as an X-Amzn-Trace-Id value.
func (h Header) String() string {
	var buf [96]byte // Root=<35>;Parent=<16>;Sampled=1 is 75
	return string(h.appendTo(buf[:0], nil))
}

// appendTo appends h as an X-Amzn-Trace-Id value to b, with parent as
// its Parent when parent is not nil.
func (h Header) appendTo(b, parent []byte) []byte {
	b = append(append(b, "Root="...), h.Root...)
	switch {
	case parent != nil:
		b = append(append(b, ";Parent="...), parent...)
	case h.Parent != "":
		b = append(append(b, ";Parent="...), h.Parent...)
	}
	switch h.Sampled {
	case Sampled:
		b = append(b, ";Sampled=1"...)
	case NotSampled:
		b = append(b, ";Sampled=0"...)
	}
	return b
}

// Traceparent returns h as a W3C traceparent value; a header without a
// parent gets a new one, as the field is required.
func (h Header) Traceparent() string {
	p := h.Parent
	if p == "" {
		p = NewID()
	}
	flags := "00"
	if h.Sampled == Sampled {
		flags = "01"
	}
	return "00-" + W3CTraceID(h.Root) + "-" + p + "-" + flags
}

// W3CTraceID returns the W3C (and OpenTelemetry) trace id of an X-Ray
// root: its 32 hex digits.
func W3CTraceID(root string) string {
	if len(root) != 35 {
		return ""
	}
	return root[2:10] + root[11:]
}

// ValidRoot reports whether s is an X-Ray root: 1-<8 hex>-<24 hex>.
func ValidRoot(s string) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' && isHex(s[2:10]) && isHex(s[11:])
}

// ValidID reports whether s is a segment id: 16 hex digits.
func ValidID(s string) bool { return len(s) == 16 && isHex(s) }

// RootTime returns the time a root names (its epoch seconds).
func RootTime(root string) time.Time {
	if !ValidRoot(root) {
		return time.Time{}
	}
	var secs int64
	for i := 2; i < 10; i++ {
		secs = secs<<4 | int64(unhex(root[i]))
	}
	return time.Unix(secs, 0)
}

// NewRoot mints a root at time t.
func NewRoot(t time.Time) string {
	var b [35]byte
	b[0], b[1], b[10] = '1', '-', '-'
	u := uint32(t.Unix())
	for i := 7; i >= 0; i-- {
		b[2+i] = digits[u&0xf]
		u >>= 4
	}
	putHex(b[11:27], rand.Uint64())
	putHex(b[27:35], rand.Uint64()>>32)
	return string(b[:])
}

// NewID mints a segment id: 16 hex digits, never all zeros.
func NewID() string {
	var b [16]byte
	v := rand.Uint64()
	if v == 0 {
		v = 1
	}
	putHex(b[:], v)
	return string(b[:])
}

// FunctionSegmentID is the id of the function segment
// (AWS::Lambda::Function) of the invocation with request id reqID: the
// second half of its 32 hex digits. The Runtime API hands it to the
// function as its Parent, so that a tracing SDK inside adds its
// subsegments under it, and the invocation's segments take it.
func FunctionSegmentID(reqID string) string { return halfOf(reqID, 1) }

// ServiceSegmentID is the id of the service segment (AWS::Lambda) of the
// invocation with request id reqID: the first half of its hex digits.
func ServiceSegmentID(reqID string) string { return halfOf(reqID, 0) }

// ForFunction returns the X-Amzn-Trace-Id a function sees for the
// invocation reqID of a request with trace header h: its root and
// decision, with the function segment as parent. A header that is not
// one is returned as it is.
func ForFunction(h, reqID string) string {
	th, ok := Parse(h)
	if !ok {
		return h
	}
	var buf [96]byte
	var half [16]byte
	var parent []byte // the function segment, when reqID names one
	if putHalf(&half, reqID, 1) {
		parent = half[:]
	}
	return string(th.appendTo(buf[:0], parent))
}

// IsSampled reports quickly whether header h says Sampled=1.
func IsSampled(h string) bool { return strings.Contains(h, "Sampled=1") }

// halfOf returns half i of the 32 hex digits of a request id (with or
// without a UUID's dashes), or "" when it has not 32.
func halfOf(reqID string, i int) string {
	var half [16]byte
	if !putHalf(&half, reqID, i) {
		return ""
	}
	return string(half[:])
}

// putHalf puts half i of reqID's 32 hex digits in dst, as halfOf
// returns it; false when reqID has not 32.
func putHalf(dst *[16]byte, reqID string, i int) bool {
	n := 0
	for j := 0; j < len(reqID); j++ {
		c := reqID[j]
		if c == '-' {
			continue
		}
		if n == 32 || !isHexByte(c) {
			return false
		}
		if n/16 == i {
			dst[n%16] = lower(c)
		}
		n++
	}
	return n == 32
}

const digits = "0123456789abcdef"

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
