package expect

import (
	"bytes"

	"golang.org/x/net/http/httpguts"
)

// state is where the scanner is in the HTTP/1.1 byte stream.
type state uint8

const (
	stReqStart     state = iota // first byte of a request line
	stMethod                    // in the method
	stTarget                    // in the request target
	stVersion                   // in the version, matching "HTTP/1.1"
	stReqLF                     // after the request line's CR
	stLineStart                 // first byte of a header line or of the empty line
	stName                      // in a header name
	stValue                     // in a header value
	stValueLF                   // after a header line's CR
	stHeadLF                    // after the empty line's CR
	stBody                      // in a fixed-length body: n bytes left
	stChunkSize                 // in a chunk-size
	stChunkExt                  // in a chunk extension
	stChunkWS                   // in white space after a chunk-size
	stChunkLF                   // after a chunk-size line's CR
	stChunkData                 // in chunk data: n bytes left
	stChunkCR                   // at the CR after chunk data
	stChunkDataLF               // at the LF after chunk data
	stTrailerStart              // first byte of a trailer line or of the empty line
	stTrailer                   // in a trailer line
	stTrailerLF                 // after a trailer line's CR
	stTrailerEndLF              // after the trailers' empty line's CR
	stOff                       // not framing: bytes pass through
)

// The header names the scanner tells apart, as bits of scanner.names.
const (
	hExpect = 1 << iota
	hContentLength
	hTransferEncoding
	hUpgrade
)

var headerNames = [...]string{"expect", "content-length", "transfer-encoding", "upgrade"}

// The head's decision about its Expect lines (scanner.decided).
const (
	undecided = iota
	keep
	rename
)

// scanner follows the framing of the requests on one connection. Byte
// positions it keeps (hold, vStart, vEnd) index the buffer being
// scanned; rebase moves them when the held bytes move.
type scanner struct {
	st    state
	k     int    // bytes matched of a literal, or counted
	n     uint64 // body or chunk bytes left; a chunk-size being read
	names uint8  // header names the current name may still be
	name  uint8  // the header whose value is being read (0: another)
	phase uint8  // of a Content-Length or Transfer-Encoding value: 0 leading space, 1 in it, 2 trailing space
	val   uint64 // a Content-Length being read

	// The head so far.
	cl      int64 // Content-Length, -1 for none
	chunked bool
	decided uint8

	// The Expect line held back: its start, and its value's.
	hold         int // -1 when none
	vStart, vEnd int
	pending      bool // the head's first Expect line awaits its decision
}

// reset readies s for a new connection.
func (s *scanner) reset() {
	s.st = stReqStart
	s.hold = -1
}

// stop gives up on framing: from now on bytes pass through unchanged.
func (s *scanner) stop() {
	s.st = stOff
	s.hold = -1
	s.pending = false
}

// rebase says that the bytes from d on have moved to the start of the
// buffer.
func (s *scanner) rebase(d int) {
	if s.hold >= 0 {
		s.hold -= d
	}
	s.vStart -= d
	s.vEnd -= d
}

// startHead begins the header lines of a request.
func (s *scanner) startHead() {
	s.st = stLineStart
	s.cl = -1
	s.chunked = false
	s.decided = undecided
}

// scan follows b[i:] (b[:i] having been scanned already), renaming in b
// the Expect lines it decides to rename, and returns where the Expect
// line it still holds back starts in b, or -1.
func (s *scanner) scan(b []byte, i int) int {
	for i < len(b) {
		if s.hold >= 0 && i-s.hold >= holdMax {
			s.stop() // an Expect line too long to hold
			return -1
		}
		c := b[i]
		switch s.st {
		case stOff:
			return -1

		case stBody, stChunkData:
			r := uint64(len(b) - i)
			if r > s.n {
				r = s.n
			}
			i += int(r)
			s.n -= r
			if s.n == 0 {
				if s.st == stBody {
					s.st = stReqStart
				} else {
					s.st = stChunkCR
				}
			}
			continue

		case stReqStart:
			if !isToken(c) {
				s.stop()
				return -1
			}
			s.st = stMethod
			s.k = 0
			s.matchMethod(c)
		case stMethod:
			switch {
			case c == ' ':
				if s.k == len("CONNECT") {
					s.stop()
					return -1
				}
				s.st = stTarget
				s.k = 0
			case isToken(c):
				s.matchMethod(c)
			default:
				s.stop()
				return -1
			}
		case stTarget:
			switch {
			case c == ' ' && s.k > 0:
				s.st = stVersion
				s.k = 0
			case c > ' ' && c != 0x7f:
				s.k = 1
			default:
				s.stop()
				return -1
			}
		case stVersion:
			const version = "HTTP/1.1"
			switch {
			case s.k < len(version) && c == version[s.k]:
				s.k++
			case s.k == len(version) && c == '\r':
				s.st = stReqLF
			case s.k == len(version) && c == '\n':
				s.startHead()
			default:
				s.stop()
				return -1
			}
		case stReqLF:
			if c != '\n' {
				s.stop()
				return -1
			}
			s.startHead()

		case stLineStart:
			if s.pending {
				if c == ' ' || c == '\t' {
					s.stop() // a folded Expect line
					return -1
				}
				s.decide(b)
			}
			switch {
			case c == '\r':
				s.st = stHeadLF
			case c == '\n':
				if !s.endHead() {
					return -1
				}
			case isToken(c):
				s.st = stName
				s.k = 0
				s.names = hExpect | hContentLength | hTransferEncoding | hUpgrade
				s.matchName(c)
				if s.names&hExpect != 0 {
					s.hold = i
				}
			default:
				s.stop() // a folded line, or no name
				return -1
			}
		case stName:
			switch {
			case c == ':':
				if !s.endName(b, i) {
					return -1
				}
			case isToken(c):
				s.matchName(c)
				if s.names&hExpect == 0 {
					s.hold = -1
				}
			default:
				s.stop()
				return -1
			}
		case stValue:
			switch c {
			case '\r':
				s.vEnd = i
				s.st = stValueLF
			case '\n':
				s.vEnd = i
				if !s.endLine() {
					return -1
				}
			default:
				if !s.valueByte(c) {
					s.stop()
					return -1
				}
			}
		case stValueLF:
			if c != '\n' || !s.endLine() {
				s.stop()
				return -1
			}
		case stHeadLF:
			if c != '\n' || !s.endHead() {
				s.stop()
				return -1
			}

		case stChunkSize:
			switch {
			case hexDigit(c) >= 0 && s.k < 16:
				s.n = s.n<<4 | uint64(hexDigit(c))
				s.k++
			case s.k == 0:
				s.stop()
				return -1
			case c == ';':
				s.st = stChunkExt
			case c == ' ' || c == '\t':
				s.st = stChunkWS
			case c == '\r':
				s.st = stChunkLF
			default:
				s.stop()
				return -1
			}
		case stChunkExt:
			switch c {
			case '\r':
				s.st = stChunkLF
			case '\n':
				s.stop()
				return -1
			}
		case stChunkWS:
			switch c {
			case ' ', '\t':
			case '\r':
				s.st = stChunkLF
			default:
				s.stop()
				return -1
			}
		case stChunkLF:
			if c != '\n' {
				s.stop()
				return -1
			}
			if s.n == 0 {
				s.st = stTrailerStart
			} else {
				s.st = stChunkData
			}
		case stChunkCR:
			if c != '\r' {
				s.stop()
				return -1
			}
			s.st = stChunkDataLF
		case stChunkDataLF:
			if c != '\n' {
				s.stop()
				return -1
			}
			s.st = stChunkSize
			s.k = 0
			s.n = 0

		case stTrailerStart:
			switch c {
			case '\r':
				s.st = stTrailerEndLF
			case ' ', '\t', '\n':
				s.stop()
				return -1
			default:
				s.st = stTrailer
			}
		case stTrailer:
			switch c {
			case '\r':
				s.st = stTrailerLF
			case '\n':
				s.stop()
				return -1
			}
		case stTrailerLF, stTrailerEndLF:
			if c != '\n' {
				s.stop()
				return -1
			}
			if s.st == stTrailerLF {
				s.st = stTrailerStart
			} else {
				s.st = stReqStart
			}
		}
		i++
	}
	return s.hold
}

// matchMethod counts the bytes of the method that match "CONNECT" so far;
// s.k is len("CONNECT") only for CONNECT itself.
func (s *scanner) matchMethod(c byte) {
	const connect = "CONNECT"
	if s.k >= 0 && s.k < len(connect) && c == connect[s.k] {
		s.k++
	} else {
		s.k = -1
	}
}

// matchName drops from s.names the header names the current name, one
// byte longer with c, can no longer be.
func (s *scanner) matchName(c byte) {
	c = lower(c)
	for j, name := range headerNames {
		bit := uint8(1) << j
		if s.names&bit != 0 && (s.k >= len(name) || name[s.k] != c) {
			s.names &^= bit
		}
	}
	s.k++
}

// endName handles the colon at b[i] that ends a header name.
func (s *scanner) endName(b []byte, i int) bool {
	s.name = 0
	for j, name := range headerNames {
		if bit := uint8(1) << j; s.names&bit != 0 && s.k == len(name) {
			s.name = bit
		}
	}
	if s.name != hExpect {
		s.hold = -1 // a prefix of expect, such as "exp"
	}
	s.st = stValue
	s.phase = 0
	s.val = 0
	switch s.name {
	case hUpgrade:
		s.stop() // the connection may leave HTTP
		return false
	case hExpect:
		switch s.decided {
		case undecided:
			// The head's first: held until the next line starts.
			s.pending = true
			s.vStart = i + 1
			return true
		case rename:
			copy(b[s.hold:], PrivateName)
		}
		s.hold = -1
	}
	return true
}

// valueByte follows one byte of a header value (not CR or LF).
func (s *scanner) valueByte(c byte) bool {
	switch s.name {
	case hContentLength:
		switch {
		case c == ' ' || c == '\t':
			if s.phase == 1 {
				s.phase = 2
			}
		case '0' <= c && c <= '9' && s.phase < 2:
			s.phase = 1
			if s.val > (1<<63-1)/10 {
				return false
			}
			s.val = s.val*10 + uint64(c-'0')
			if s.val > 1<<63-1 {
				return false
			}
		default:
			return false
		}
	case hTransferEncoding:
		const chunked = "chunked"
		switch {
		case c == ' ' || c == '\t':
			if s.phase == 1 {
				if s.k != len(chunked) {
					return false
				}
				s.phase = 2
			}
		case s.phase == 0 && lower(c) == 'c':
			s.phase = 1
			s.k = 1
		case s.phase == 1 && s.k < len(chunked) && lower(c) == chunked[s.k]:
			s.k++
		default:
			return false
		}
	}
	return true
}

// endLine ends a header line.
func (s *scanner) endLine() bool {
	switch s.name {
	case hContentLength:
		if s.phase == 0 || s.cl >= 0 {
			s.stop() // empty, or repeated
			return false
		}
		s.cl = int64(s.val)
	case hTransferEncoding:
		if s.phase == 0 || s.k != len("chunked") || s.chunked {
			s.stop() // not chunked alone, or repeated
			return false
		}
		s.chunked = true
	}
	s.st = stLineStart
	return true
}

// endHead ends a request's head at its empty line and starts its body.
func (s *scanner) endHead() bool {
	switch {
	case s.chunked && s.cl >= 0:
		s.stop()
		return false
	case s.chunked:
		s.st = stChunkSize
		s.k = 0
		s.n = 0
	case s.cl > 0:
		s.st = stBody
		s.n = uint64(s.cl)
	default:
		s.st = stReqStart
	}
	return true
}

// decide settles the head's Expect lines on its first one, held in
// b[s.hold:]: renamed when its value is not empty and holds no
// 100-continue token, as net/http would refuse it.
func (s *scanner) decide(b []byte) {
	v := trimSpace(b[s.vStart:s.vEnd])
	if len(v) > 0 && !hasContinue(v) {
		copy(b[s.hold:], PrivateName)
		s.decided = rename
	} else {
		s.decided = keep
	}
	s.pending = false
	s.hold = -1
}

// hasContinue reports whether v has the token 100-continue, in any case,
// between spaces, tabs, commas or its ends, as net/http looks for it.
func hasContinue(v []byte) bool {
	const token = "100-continue"
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j] != ' ' && v[j] != '\t' && v[j] != ',' {
			j++
		}
		if j-i == len(token) && equalFold(v[i:j], token) {
			return true
		}
		i = j + 1
	}
	return false
}

func equalFold(b []byte, s string) bool {
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// trimSpace cuts the optional whitespace (spaces and tabs) around a
// field value.
func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t") }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isToken(c byte) bool { return httpguts.IsTokenRune(rune(c)) }
