package logs

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// Subjects
//
// Every log stream has its own subject "logs.<group>.<stream>". Both tokens
// are the unpadded base32 (extended hex alphabet, 0-9A-V) encoding of the
// name: group names contain '/', stream names '/', '[', '$' and ']', and
// names may contain '.', none of which a NATS token can carry. The encoding
// is reversible, so the set of groups and streams can be recovered from the
// stream's subject state alone, and it never produces markerToken, which
// names the subject of a group created without any log stream.

const (
	subjectPrefix = "logs."
	markerToken   = "_"
)

var nameEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

func nameToken(name string) string { return nameEncoding.EncodeToString([]byte(name)) }

func groupSubject(groupToken string) string { return subjectPrefix + groupToken + "." + markerToken }

func streamSubject(groupToken, streamToken string) string {
	return subjectPrefix + groupToken + "." + streamToken
}

// parseSubject splits a subject into group and stream names; stream is ""
// for a group marker subject.
func parseSubject(subject string) (group, stream string, err error) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if !ok {
		return "", "", errors.New("logs: foreign subject " + subject)
	}
	gt, st, ok := strings.Cut(rest, ".")
	if !ok || gt == "" || st == "" {
		return "", "", errors.New("logs: malformed subject " + subject)
	}
	g, err := nameEncoding.DecodeString(gt)
	if err != nil || len(g) == 0 {
		return "", "", errors.New("logs: malformed subject " + subject)
	}
	if st == markerToken {
		return string(g), "", nil
	}
	s, err := nameEncoding.DecodeString(st)
	if err != nil || len(s) == 0 {
		return "", "", errors.New("logs: malformed subject " + subject)
	}
	return string(g), string(s), nil
}

// Message bodies
//
// One JetStream message carries one batch (or one chunk of a large batch):
//
//	byte     format version (1)
//	uvarint  ingestion time, ms since the epoch (writer clock)
//	uvarint  bytes of the log stream written before this message ("prior")
//	uvarint  number of events n
//	n times: varint timestamp (ms), uvarint length, message bytes
//
// "prior" makes the stored size of a log stream computable from its first
// and last retained message, without scanning it.

const bodyVersion = 1

// bodyHeader is the fixed part of a message body.
type bodyHeader struct {
	ingestion int64
	prior     int64
	count     int
}

func appendBody(dst []byte, ingestion, prior int64, events []Event) []byte {
	dst = append(dst, bodyVersion)
	dst = binary.AppendUvarint(dst, uint64(ingestion))
	dst = binary.AppendUvarint(dst, uint64(prior))
	dst = binary.AppendUvarint(dst, uint64(len(events)))
	for i := range events {
		dst = binary.AppendVarint(dst, events[i].Timestamp)
		dst = binary.AppendUvarint(dst, uint64(len(events[i].Message)))
		dst = append(dst, events[i].Message...)
	}
	return dst
}

// encodedEventSize bounds the bytes one event adds to a body.
func encodedEventSize(e *Event) int { return 2*binary.MaxVarintLen64 + len(e.Message) }

// bodySize bounds the bytes of a body of events.
func bodySize(events []Event) int {
	n := 1 + 3*binary.MaxVarintLen64
	for i := range events {
		n += encodedEventSize(&events[i])
	}
	return n
}

var errBadBody = errors.New("logs: malformed message body")

// readBody decodes the header of b and calls fn for every event in order;
// msg aliases b. fn returning false stops the walk.
func readBody(b []byte, fn func(i int, ts int64, msg []byte) bool) (bodyHeader, error) {
	var h bodyHeader
	if len(b) == 0 || b[0] != bodyVersion {
		return h, errBadBody
	}
	b = b[1:]
	ing, n := binary.Uvarint(b)
	if n <= 0 {
		return h, errBadBody
	}
	b = b[n:]
	prior, n := binary.Uvarint(b)
	if n <= 0 {
		return h, errBadBody
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return h, errBadBody
	}
	b = b[n:]
	h = bodyHeader{ingestion: int64(ing), prior: int64(prior), count: int(count)}
	if fn == nil {
		return h, nil
	}
	for i := 0; i < h.count; i++ {
		ts, n := binary.Varint(b)
		if n <= 0 {
			return h, errBadBody
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return h, errBadBody
		}
		msg := b[n : n+int(l)]
		b = b[n+int(l):]
		if !fn(i, ts, msg) {
			break
		}
	}
	return h, nil
}

// bodySummary is what the index needs to know about one message.
type bodySummary struct {
	bodyHeader
	minTs, maxTs int64
	bytes        int64 // message bytes of all events
}

func summarize(b []byte) (bodySummary, error) {
	var s bodySummary
	h, err := readBody(b, func(i int, ts int64, msg []byte) bool {
		if i == 0 || ts < s.minTs {
			s.minTs = ts
		}
		if i == 0 || ts > s.maxTs {
			s.maxTs = ts
		}
		s.bytes += int64(len(msg))
		return true
	})
	s.bodyHeader = h
	return s, err
}

// Event positions
//
// An event's position is its message's stream sequence shifted left by 16
// bits plus its index in the message (a message never holds more than
// maxChunkEvents events). Positions order events the way they were stored;
// they give event IDs and paging tokens.

const idxBits = 16

func position(seq uint64, idx int) uint64 { return seq<<idxBits | uint64(idx) }

func posSeq(pos uint64) uint64 { return pos >> idxBits }

// posDigits is the width of a formatted position: 20 digits of sequence and
// 5 of index, so IDs sort like positions.
const posDigits = 25

func appendPos(dst []byte, pos uint64) []byte {
	var buf [posDigits]byte
	seq, idx := posSeq(pos), pos&(1<<idxBits-1)
	for i := posDigits - 1; i >= 20; i-- {
		buf[i] = byte('0' + idx%10)
		idx /= 10
	}
	for i := 19; i >= 0; i-- {
		buf[i] = byte('0' + seq%10)
		seq /= 10
	}
	return append(dst, buf[:]...)
}

func formatPos(pos uint64) string { return string(appendPos(nil, pos)) }

func parsePos(s string) (uint64, bool) {
	if len(s) != posDigits {
		return 0, false
	}
	seq, err := strconv.ParseUint(s[:20], 10, 64)
	if err != nil || seq >= 1<<(64-idxBits) {
		return 0, false
	}
	idx, err := strconv.ParseUint(s[20:], 10, 64)
	if err != nil || idx >= 1<<idxBits {
		return 0, false
	}
	return position(seq, int(idx)), true
}

// Paging tokens. GetLogEvents uses "f/<pos>" and "b/<pos>" like CloudWatch;
// FilterLogEvents uses "n/<pos>"; the Describe calls use the base64 of the
// sort key of the last item returned.

func posToken(prefix string, pos uint64) string { return prefix + formatPos(pos) }

func parsePosToken(tok, prefix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(tok, prefix)
	if !ok {
		return 0, false
	}
	return parsePos(rest)
}

func keyToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func parseKeyToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	return string(b), true
}
