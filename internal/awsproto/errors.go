package awsproto

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/fault"
)

// Error is an error an AWS API answers with: the HTTP status, the code
// clients match on (an exception name such as ResourceNotFoundException)
// and a message. Err, when set, is the cause, for logs; clients never see
// it.
type Error struct {
	Status  int
	Code    string
	Message string
	// QueryCode is the code a client of the query protocol sees, for a
	// JSON service that speaks both (JSON10Query: SQS's
	// AWS.SimpleQueueService.NonExistentQueue for QueueDoesNotExist);
	// empty means Code.
	QueryCode string
	// Reason is a machine-readable cause, for the protocols that carry
	// one (Lambda's throttling reason).
	Reason string
	// Fields are further elements of the error document, in order, for
	// the XML protocols (S3's BucketName, Key and HostId, say).
	Fields []Field
	// Extra are further members of a JSON error document (DynamoDB's
	// Item of a failed condition).
	Extra map[string]any
	Err   error
}

// Field is one further element of an error document.
type Field struct{ Name, Value string }

// Status returns the HTTP status with which AWS's REST and JSON APIs
// answer a refusal of kind k.
func Status(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.PreconditionFailed:
		return http.StatusPreconditionFailed
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.Unsupported:
		return http.StatusUnsupportedMediaType
	case fault.Denied:
		return http.StatusForbidden
	case fault.Throttled:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Unavailable returns the error with which clients of protocol p are told
// that the server cannot serve the request now but may soon, so that
// they send it again (as the SDKs do a 503's), when err is of kind
// fault.Unavailable (a node of a cluster without a majority to take
// writes, say); nil otherwise. The status is 503 and the code the
// service's own where AWS has one: ServiceUnavailable, as the JSON and
// query services (SQS, SNS, DynamoDB) answer a temporary failure and S3
// one it asks to slow down; ServiceUnavailableException for rest-json
// (API Gateway's); ServiceException for Lambda, which has no code of
// its own for it.
func Unavailable(p Protocol, err error) *Error {
	if err == nil || fault.KindOf(err) != fault.Unavailable {
		return nil
	}
	e := &Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
		Message: "The request has failed due to a temporary failure of the server.", Err: err}
	switch p {
	case RESTXML:
		e.Message = "Please reduce your request rate."
	case Lambda:
		e.Code = "ServiceException"
	case RESTJSON:
		e.Code = "ServiceUnavailableException"
	}
	return e
}

// Errorf returns an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the code and message, and the cause if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Protocol is one of the families of wire protocols AWS APIs speak, which
// render errors each their own way.
type Protocol uint8

// The protocol families.
const (
	// RESTJSON (API Gateway, Scheduler): the code in the
	// X-Amzn-Errortype header, the body {"__type": code, "message": ...}.
	RESTJSON Protocol = iota + 1
	// Lambda is rest-json as Lambda writes it: the code in
	// X-Amzn-Errortype and a body {"Type": "User"|"Service", "message"}
	// ("Message" for 404 and 413; {"__type", "message"} for 403), with
	// the Reason when there is one and Retry-After on 429.
	Lambda
	// JSON10 and JSON11 (DynamoDB; CloudWatch Logs): the body
	// {"__type": code, "message": ...} with the protocol's content type,
	// and the code in X-Amzn-Errortype as well.
	JSON10
	JSON11
	// JSON10Query is json-1.0 for a service that also speaks the query
	// protocol (SQS): JSON10 plus the x-amzn-query-error header
	// ("QueryCode;Sender"), from which the SDKs take the code they
	// report while the body's __type picks the typed error.
	JSON10Query
	// RESTXML (S3): <Error><Code/><Message/><RequestId/></Error>.
	RESTXML
	// QueryXML (IAM, STS, SNS): <ErrorResponse><Error><Type/><Code/>
	// <Message/></Error><RequestId/></ErrorResponse>, Type being Sender
	// for a client's fault and Receiver for the server's.
	QueryXML
	// CBOR is Smithy RPC v2 CBOR (CloudWatch): the CBOR map
	// {"__type": code, "message": ...} with the header smithy-protocol:
	// rpc-v2-cbor, and x-amzn-query-error ("QueryCode;Sender") when the
	// error has a QueryCode, for a service that also speaks the query
	// protocol.
	CBOR
)

// WriteError writes e as clients of protocol p decode it. requestID goes
// into the document where the protocol puts it there (the XML ones); the
// caller sets the protocol's request id header. A HEAD request gets the
// status alone, as it can carry no body.
func WriteError(w http.ResponseWriter, r *http.Request, p Protocol, e *Error, requestID string) {
	h := w.Header()
	var body []byte
	switch p {
	case JSON10, JSON11, JSON10Query:
		if p == JSON11 {
			h.Set("Content-Type", "application/x-amz-json-1.1")
		} else {
			h.Set("Content-Type", "application/x-amz-json-1.0")
		}
		if p == JSON10Query {
			qc := e.QueryCode
			if qc == "" {
				qc = e.Code
			}
			h.Set("X-Amzn-Query-Error", qc+";"+whose(e))
		}
		h.Set("X-Amzn-Errortype", e.Code)
		if len(e.Extra) > 0 {
			doc := map[string]any{"__type": e.Code, "message": e.Message}
			for k, v := range e.Extra {
				doc[k] = v
			}
			body, _ = json.Marshal(doc)
			break
		}
		body, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message,omitempty"`
		}{e.Code, e.Message})
	case CBOR:
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", SmithyProtocol)
		if e.QueryCode != "" {
			h.Set("X-Amzn-Query-Error", e.QueryCode+";"+whose(e))
		}
		body = errorCBOR(e)
	case Lambda:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", e.Code)
		doc := map[string]string{"Type": "User", "message": e.Message}
		switch {
		case e.Status >= 500:
			doc["Type"] = "Service"
		case e.Status == http.StatusNotFound || e.Status == http.StatusRequestEntityTooLarge:
			doc = map[string]string{"Type": "User", "Message": e.Message}
		case e.Status == http.StatusForbidden:
			doc = map[string]string{"__type": e.Code, "message": e.Message}
		}
		if e.Reason != "" {
			doc["Reason"] = e.Reason
		}
		if e.Status == http.StatusTooManyRequests {
			h.Set("Retry-After", "1")
		}
		body, _ = json.Marshal(doc)
	case RESTXML:
		h.Set("Content-Type", "application/xml")
		body = errorXML(e, requestID)
	case QueryXML:
		h.Set("Content-Type", "text/xml")
		type errorElem struct {
			Type    string
			Code    string
			Message string
		}
		body = xmlDoc(struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			Error     errorElem
			RequestID string `xml:"RequestId"`
		}{Error: errorElem{whose(e), cmp.Or(e.QueryCode, e.Code), e.Message}, RequestID: requestID})
	default: // RESTJSON
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", e.Code)
		body, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{e.Code, e.Message})
	}
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// whose says whose fault e is, as the query protocol words it: Sender
// for the client's, Receiver for the server's.
func whose(e *Error) string {
	if e.Status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// errorXML is S3's error document: Code, Message, the further fields and
// RequestId.
func errorXML(e *Error, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>")
	elem := func(name, value string) {
		b.WriteString("<" + name + ">")
		xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">")
	}
	elem("Code", e.Code)
	elem("Message", e.Message)
	for _, f := range e.Fields {
		elem(f.Name, f.Value)
	}
	elem("RequestId", requestID)
	b.WriteString("</Error>")
	return b.Bytes()
}

// xmlDoc encodes v after the XML header; a struct of strings always
// encodes.
func xmlDoc(v any) []byte {
	b, _ := xml.Marshal(v)
	return append([]byte(xml.Header), b...)
}
