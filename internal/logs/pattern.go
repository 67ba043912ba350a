package logs

import (
	"bytes"
	"strings"
	"unicode"
)

// pattern is a parsed filter pattern in the CloudWatch Logs term syntax:
//
//	""                      every event
//	ERROR Exception         events containing all the terms
//	"connection refused"    a quoted term may contain spaces
//	?ERROR ?WARN            events containing any of the ?-terms
//	ERROR -Retrying         a -term must not be present
//
// Matching is a case-sensitive substring match. JSON ({ $.x = 1 }),
// space-delimited ([a, b]) and regular-expression (%re%) patterns are not
// supported and rejected.
type pattern struct {
	all  [][]byte
	any  [][]byte
	none [][]byte
}

func parsePattern(src string) (*pattern, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return nil, nil
	}
	switch s[0] {
	case '{', '[', '%':
		return nil, invalidParam("Unsupported filter pattern: only term, quoted-phrase, ?-term and -term patterns are supported.")
	}
	p := &pattern{}
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			break
		}
		kind := byte(0)
		if s[0] == '?' || s[0] == '-' {
			kind, s = s[0], s[1:]
		}
		var term string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			closed := false
			i := 1
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return nil, invalidParam("Invalid filter pattern: unterminated quoted term.")
			}
			term, s = b.String(), s[i:]
		} else {
			end := strings.IndexFunc(s, unicode.IsSpace)
			if end < 0 {
				end = len(s)
			}
			term, s = s[:end], s[end:]
		}
		if term == "" {
			return nil, invalidParam("Invalid filter pattern: empty term.")
		}
		switch kind {
		case '?':
			p.any = append(p.any, []byte(term))
		case '-':
			p.none = append(p.none, []byte(term))
		default:
			p.all = append(p.all, []byte(term))
		}
	}
	return p, nil
}

// match reports whether msg satisfies the pattern; a nil pattern matches all.
func (p *pattern) match(msg []byte) bool {
	if p == nil {
		return true
	}
	for _, t := range p.all {
		if !bytes.Contains(msg, t) {
			return false
		}
	}
	for _, t := range p.none {
		if bytes.Contains(msg, t) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, t := range p.any {
		if bytes.Contains(msg, t) {
			return true
		}
	}
	return false
}
