package awsproto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The Smithy RPC v2 CBOR protocol: a POST to
// /service/<service>/operation/<operation> with the header
// smithy-protocol: rpc-v2-cbor and a CBOR map of the input's members,
// answered with a CBOR map of the output's, or an error map
// {"__type": code, "message": ...} with the status of the JSON
// protocols. Members are named as in JSON, so one Go struct serves both;
// timestamps are CBOR tag 1 (epoch seconds, an integer or a float), as
// Time encodes itself.

// SmithyProtocol is the value of the smithy-protocol header of the
// Smithy RPC v2 CBOR protocol's requests and answers.
const SmithyProtocol = "rpc-v2-cbor"

// CBORPath returns the path prefix of the Smithy RPC v2 CBOR requests for
// the service whose shape name is service
// (/service/GraniteServiceVersion20100801/operation/).
func CBORPath(service string) string { return "/service/" + service + "/operation/" }

var (
	cborDec, _ = cbor.DecOptions{MaxNestedLevels: 32, MaxArrayElements: 1 << 16, MaxMapPairs: 1 << 16}.DecMode()
	cborEnc, _ = cbor.EncOptions{}.EncMode()
)

// Time is a timestamp of the RPC protocols: epoch seconds in JSON (a
// number with a fraction for a time within a second), CBOR tag 1 in
// CBOR, and ISO 8601 in the query protocol's XML (EncodeQuery). It
// decodes from any of these, and from an ISO 8601 string in JSON.
type Time struct{ time.Time }

// ErrTime is what a timestamp that does not decode wraps.
var ErrTime = errors.New("awsproto: not a valid timestamp")

// epochSeconds returns t as seconds since the epoch, with milliseconds.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1e3
}

// MarshalJSON writes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, epochSeconds(t.Time), 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds or an ISO 8601 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("%w: %s", ErrTime, b)
		}
		return t.parse(s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a number of seconds", ErrTime, b)
	}
	return t.fromSeconds(f)
}

// parse reads an ISO 8601 timestamp or a number of epoch seconds.
func (t *Time) parse(s string) error {
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v.UTC()
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return t.fromSeconds(f)
	}
	return fmt.Errorf("%w: %q is neither ISO 8601 nor epoch seconds", ErrTime, s)
}

func (t *Time) fromSeconds(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return fmt.Errorf("%w: %v is out of range", ErrTime, f)
	}
	t.Time = time.UnixMilli(int64(math.Round(f * 1e3))).UTC()
	return nil
}

// MarshalCBOR writes tag 1 around the epoch seconds: an integer for a
// whole second, a float otherwise.
func (t Time) MarshalCBOR() ([]byte, error) {
	var content any
	if ms := t.UnixMilli(); ms%1000 == 0 {
		content = ms / 1000
	} else {
		content = epochSeconds(t.Time)
	}
	return cborEnc.Marshal(cbor.Tag{Number: 1, Content: content})
}

// UnmarshalCBOR reads tag 1 around epoch seconds (an integer or a
// float), or the bare number.
func (t *Time) UnmarshalCBOR(b []byte) error {
	var v any
	if err := cborDec.Unmarshal(b, &v); err != nil {
		return err
	}
	if tag, ok := v.(cbor.Tag); ok {
		if tag.Number != 1 {
			return fmt.Errorf("%w: CBOR tag %d, want 1", ErrTime, tag.Number)
		}
		v = tag.Content
	}
	switch n := v.(type) {
	case time.Time: // the decoder reads tag 1 itself
		t.Time = time.UnixMilli(n.UnixMilli()).UTC()
		return nil
	case uint64:
		return t.fromSeconds(float64(n))
	case int64:
		return t.fromSeconds(float64(n))
	case float64:
		return t.fromSeconds(n)
	case float32:
		return t.fromSeconds(float64(n))
	}
	return fmt.Errorf("%w: epoch seconds expected, not %T", ErrTime, v)
}

// DecodeCBOR decodes a CBOR body into v, by the members' JSON names, as
// JSONAPI decodes the inputs of the Smithy RPC v2 CBOR protocol (for a
// service's authorization table, say).
func DecodeCBOR(body []byte, v any) error { return cborDec.Unmarshal(body, v) }

// isCBORSyntax reports whether err says the body is not CBOR of the
// input's shape, as opposed to a member's own refusal.
func isCBORSyntax(err error) bool {
	var syntax *cbor.SyntaxError
	var typ *cbor.UnmarshalTypeError
	var semantic *cbor.SemanticError
	return errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &semantic) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// errorCBOR is the CBOR document of an error.
func errorCBOR(e *Error) []byte {
	doc := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Extra {
		doc[k] = v
	}
	b, err := cborEnc.Marshal(doc)
	if err != nil {
		b, _ = cborEnc.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	}
	return b
}
