package awsproto

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an error an AWS API answers with: the HTTP status, the code
// clients match on (an exception name such as ResourceNotFoundException)
// and a message. Err, when set, is the cause, for logs; clients never see
// it.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
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
	// RESTJSON (Lambda, API Gateway, Scheduler): the code in the
	// X-Amzn-Errortype header, the body {"__type": code, "message": ...}.
	RESTJSON Protocol = iota + 1
	// JSON10 and JSON11 (DynamoDB and SQS; CloudWatch Logs): the body
	// {"__type": code, "message": ...} with the protocol's content type,
	// and the code in X-Amzn-Errortype as well.
	JSON10
	JSON11
	// RESTXML (S3): <Error><Code/><Message/><RequestId/></Error>.
	RESTXML
	// QueryXML (IAM, STS, SNS): <ErrorResponse><Error><Type/><Code/>
	// <Message/></Error><RequestId/></ErrorResponse>, Type being Sender
	// for a client's fault and Receiver for the server's.
	QueryXML
)

// WriteError writes e as clients of protocol p decode it. requestID goes
// into the document where the protocol puts it there (the XML ones); the
// caller sets the protocol's request id header. A HEAD request gets the
// status alone, as it can carry no body.
func WriteError(w http.ResponseWriter, r *http.Request, p Protocol, e *Error, requestID string) {
	h := w.Header()
	var body []byte
	switch p {
	case JSON10, JSON11:
		if p == JSON10 {
			h.Set("Content-Type", "application/x-amz-json-1.0")
		} else {
			h.Set("Content-Type", "application/x-amz-json-1.1")
		}
		h.Set("X-Amzn-Errortype", e.Code)
		body, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message,omitempty"`
		}{e.Code, e.Message})
	case RESTXML:
		h.Set("Content-Type", "application/xml")
		body = xmlDoc(struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string
			Message   string
			RequestID string `xml:"RequestId"`
		}{Code: e.Code, Message: e.Message, RequestID: requestID})
	case QueryXML:
		h.Set("Content-Type", "text/xml")
		fault := "Sender"
		if e.Status >= 500 {
			fault = "Receiver"
		}
		type errorElem struct {
			Type    string
			Code    string
			Message string
		}
		body = xmlDoc(struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			Error     errorElem
			RequestID string `xml:"RequestId"`
		}{Error: errorElem{fault, e.Code, e.Message}, RequestID: requestID})
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

// xmlDoc encodes v after the XML header; a struct of strings always
// encodes.
func xmlDoc(v any) []byte {
	b, _ := xml.Marshal(v)
	return append([]byte(xml.Header), b...)
}
