package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/ids"
)

// JSONAPI serves an API of the JSON protocols (json-1.0, json-1.1): every
// request is a POST with X-Amz-Target: <Prefix>.<Operation> and a JSON
// document, answered with a JSON document or an error in the protocol's
// shape. Add its operations with Handle before it serves.
type JSONAPI struct {
	Protocol Protocol // JSON10, JSON10Query or JSON11
	Prefix   string   // the target's prefix: "Logs_20140328", "AmazonSQS", "DynamoDB_20120810"
	// Errors maps an error an operation returned that is not an *Error
	// to the wire (the API's table from domain errors); nil, or a nil
	// answer, makes it an internal error, logged.
	Errors func(error) *Error
	Log    *slog.Logger
	// CBOR, when set, is the Smithy shape name of the service
	// (GraniteServiceVersion20100801 for CloudWatch), under which the
	// API serves the same operations in the Smithy RPC v2 CBOR protocol
	// too: POST /service/<CBOR>/operation/<Operation> (see Time).
	CBOR string
	ops  map[string]func(ctx context.Context, body []byte, cbor bool) (any, error)
}

// Handle adds operation op: fn gets the request's document decoded into
// an In (an empty body is the empty document) and its result, encoded,
// is the answer.
func Handle[In, Out any](a *JSONAPI, op string, fn func(context.Context, *In) (*Out, error)) {
	if a.ops == nil {
		a.ops = make(map[string]func(context.Context, []byte, bool) (any, error))
	}
	a.ops[op] = func(ctx context.Context, body []byte, isCBOR bool) (any, error) {
		in := new(In)
		if isCBOR && len(body) > 0 {
			if err := DecodeCBOR(body, in); err != nil {
				if a.Errors != nil && !isCBORSyntax(err) {
					if e := a.Errors(err); e != nil {
						return nil, e
					}
				}
				return nil, Errorf(http.StatusBadRequest, "SerializationException", "Malformed request body: %v", err)
			}
		} else if !isCBOR && len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				// A field's own refusal (an attribute value's, say) is
				// the API's to word; malformed JSON is the protocol's.
				var syntax *json.SyntaxError
				var typ *json.UnmarshalTypeError
				if a.Errors != nil && !errors.As(err, &syntax) && !errors.As(err, &typ) {
					if e := a.Errors(err); e != nil {
						return nil, e
					}
				}
				return nil, Errorf(http.StatusBadRequest, "SerializationException", "Malformed request body: %v", err)
			}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// Operations returns the names of a's operations, sorted.
func (a *JSONAPI) Operations() []string { return sortedKeys(a.ops) }

// Operation returns the operation r names, with ok false when it is not
// one of a's.
func (a *JSONAPI) Operation(r *http.Request) (op string, ok bool) {
	if a.IsCBOR(r) {
		op = strings.TrimPrefix(r.URL.Path, CBORPath(a.CBOR))
		return op, a.ops[op] != nil
	}
	op, ok = strings.CutPrefix(r.Header.Get("X-Amz-Target"), a.Prefix+".")
	return op, ok && a.ops[op] != nil
}

// IsCBOR reports whether r is a request of the Smithy RPC v2 CBOR
// protocol for a (by its path).
func (a *JSONAPI) IsCBOR(r *http.Request) bool {
	return a.CBOR != "" && strings.HasPrefix(r.URL.Path, CBORPath(a.CBOR))
}

// ServeHTTP decodes r, runs its operation and writes the answer.
func (a *JSONAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID(w)
	isCBOR := a.IsCBOR(r)
	p := a.Protocol
	if isCBOR {
		p = CBOR
		w.Header().Set("Smithy-Protocol", SmithyProtocol)
	}
	op, ok := a.Operation(r)
	if !ok || r.Method != http.MethodPost {
		name := r.Header.Get("X-Amz-Target")
		if isCBOR {
			name = op
		}
		WriteError(w, r, p, Errorf(http.StatusBadRequest, "UnknownOperationException", "The operation %q is not supported by this service.", name), reqID)
		return
	}
	if isCBOR && r.Header.Get("Smithy-Protocol") != SmithyProtocol {
		WriteError(w, r, p, Errorf(http.StatusBadRequest, "SerializationException", "A request of the Smithy RPC v2 CBOR protocol must carry the header smithy-protocol: %s.", SmithyProtocol), reqID)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, r, p, Errorf(http.StatusBadRequest, "SerializationException", "Unable to read the request body."), reqID)
		return
	}
	out, err := a.ops[op](r.Context(), body, isCBOR)
	if err != nil {
		WriteError(w, r, p, a.wire(op, reqID, err), reqID)
		return
	}
	var b []byte
	if isCBOR {
		b, err = cborEnc.Marshal(out)
	} else {
		b, err = json.Marshal(out)
	}
	if err != nil {
		WriteError(w, r, p, a.wire(op, reqID, err), reqID)
		return
	}
	switch {
	case isCBOR:
		w.Header().Set("Content-Type", "application/cbor")
	case a.Protocol == JSON11:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// wire maps err to its wire form, logging server faults.
func (a *JSONAPI) wire(op, reqID string, err error) *Error {
	return wireError(a.Protocol, a.Errors, a.Log, op, reqID, err)
}

// QueryAPI serves an API of the query protocol (IAM, STS, SNS): a GET or
// a form-encoded POST whose Action parameter names the operation,
// answered with the XML document <ActionResponse><ActionResult>...
// </ActionResult><ResponseMetadata><RequestId/></ResponseMetadata>
// </ActionResponse>. Add its operations with HandleQuery before it
// serves.
type QueryAPI struct {
	Version   string // the API version clients send (2010-05-08 for IAM)
	Namespace string // the responses' XML namespace
	// Errors maps an error an operation returned that is not an *Error
	// to the wire; nil, or a nil answer, makes it an internal error.
	Errors func(error) *Error
	Log    *slog.Logger
	ops    map[string]func(context.Context, url.Values) (any, error)
}

// HandleQuery adds action: fn gets the request's parameters, and its
// result, encoded as XML, is the content of <ActionResult>; a nil result
// leaves that element out, as actions without output do.
func (a *QueryAPI) HandleQuery(action string, fn func(ctx context.Context, params url.Values) (any, error)) {
	if a.ops == nil {
		a.ops = make(map[string]func(context.Context, url.Values) (any, error))
	}
	a.ops[action] = fn
}

// Operations returns the names of a's actions, sorted.
func (a *QueryAPI) Operations() []string { return sortedKeys(a.ops) }

// ServeHTTP decodes r, runs its action and writes the answer.
func (a *QueryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID(w)
	if err := r.ParseForm(); err != nil {
		WriteError(w, r, QueryXML, Errorf(http.StatusBadRequest, "MalformedQueryString", "The request's parameters cannot be parsed: %v", err), reqID)
		return
	}
	action := r.Form.Get("Action")
	if action == "" {
		WriteError(w, r, QueryXML, Errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action."), reqID)
		return
	}
	fn := a.ops[action]
	if v := r.Form.Get("Version"); fn == nil || (v != "" && v != a.Version) {
		WriteError(w, r, QueryXML, Errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", action, r.Form.Get("Version")), reqID)
		return
	}
	out, err := fn(r.Context(), r.Form)
	if err != nil {
		WriteError(w, r, QueryXML, wireError(QueryXML, a.Errors, a.Log, action, reqID, err), reqID)
		return
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	resp := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: a.Namespace}}}
	enc.EncodeToken(resp)
	if out != nil {
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			WriteError(w, r, QueryXML, wireError(QueryXML, a.Errors, a.Log, action, reqID, err), reqID)
			return
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{reqID}
	enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	enc.EncodeToken(resp.End())
	if err := enc.Flush(); err != nil {
		WriteError(w, r, QueryXML, wireError(QueryXML, a.Errors, a.Log, action, reqID, err), reqID)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// QueryParams reads a request's parameters exactly as the API's handler will
// (the form body's, then the query's, as net/http's ParseForm merges
// them), and refuses a parameter given in both, which one reader could
// take from the body and another from the query.
func QueryParams(r *http.Request, body []byte) (url.Values, *Error) {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	if err := c.ParseForm(); err != nil {
		return nil, Errorf(http.StatusBadRequest, "MalformedQueryString", "The request's parameters cannot be parsed: %v", err)
	}
	for k := range c.PostForm {
		if _, ok := c.URL.Query()[k]; ok {
			return nil, Errorf(http.StatusBadRequest, "InvalidParameterCombination", "The parameter %s is given both in the query string and in the body.", k)
		}
	}
	return c.Form, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// wireError maps err, which an operation returned, to the wire: an *Error
// as it is, others through the API's table, and what that leaves as
// ServiceUnavailable if it is of kind fault.Unavailable, else as an
// internal error; a server fault is logged with the operation and
// request id.
func wireError(p Protocol, table func(error) *Error, log *slog.Logger, op, reqID string, err error) *Error {
	var e *Error
	if !errors.As(err, &e) && table != nil {
		e = table(err)
	}
	if e == nil {
		e = Unavailable(p, err)
	}
	if e == nil {
		e = &Error{Status: http.StatusInternalServerError, Code: "InternalFailure",
			Message: "The request processing has failed because of an unknown error, exception or failure.", Err: err}
	}
	if e.Status >= 500 && log != nil {
		log.Error("request failed", "op", op, "request_id", reqID, "err", err)
	}
	return e
}

// requestID returns the request id the front door put in the response's
// X-Amzn-Requestid header, giving the response one if it has none.
func requestID(w http.ResponseWriter) string {
	if id := w.Header().Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	id := ids.New()
	w.Header().Set("X-Amzn-Requestid", id)
	return id
}
