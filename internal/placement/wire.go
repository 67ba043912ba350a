package placement

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

// Subjects of the directory and of forwards.
const (
	summarySubject = "aloft.placement.summary." // + node
	byeSubject     = "aloft.placement.bye"
	helloSubject   = "aloft.placement.hello"
	invokeSubject  = "aloft.placement.invoke." // + node
)

// metaHeader carries a forward's or an answer's fields, as JSON (which
// escapes the line breaks a header value may not hold); the message's
// data is the payload.
const metaHeader = "Aloft-Placement"

// forwarded is a forwarded invocation, besides its payload.
type forwarded struct {
	From          string `json:"from"`
	Function      string `json:"fn"`
	Version       string `json:"ver"`
	Revision      string `json:"rev"` // the configuration's RevisionID
	Region        string `json:"region,omitempty"`
	InvokedARN    string `json:"arn,omitempty"`
	ClientContext string `json:"cc,omitempty"`
	Tail          bool   `json:"tail,omitempty"`
	TraceID       string `json:"trace,omitempty"`
	RequestID     string `json:"id,omitempty"`
	// StartBy is when the sender stops waiting for the receiver to start
	// (Unix milliseconds): a receiver that sees it later refuses, since the
	// sender runs the invocation itself by then. It relies on the nodes'
	// clocks agreeing to well within a second.
	StartBy int64 `json:"startBy"`
}

// The kinds of answer.
const (
	answerStarted = "started" // the receiver runs it; the result follows
	answerRefused = "refused" // the receiver will not run it: run it elsewhere
	answerResult  = "result"  // the invocation's response
	answerError   = "error"   // the error the caller is to see
)

// answer is a receiver's answer, besides the response's payload.
type answer struct {
	Kind          string `json:"kind"`
	Why           string `json:"why,omitempty"` // of a refusal
	FunctionError string `json:"fe,omitempty"`
	Version       string `json:"ver,omitempty"`
	RequestID     string `json:"id,omitempty"`
	FailureKind   uint8  `json:"fk,omitempty"`
	FailureMsg    string `json:"fm,omitempty"`
	LogTail       []byte `json:"tail,omitempty"`
	// The error, for answerError.
	ErrKind    fault.Kind `json:"ek,omitempty"`
	ErrType    string     `json:"et,omitempty"`
	ErrMessage string     `json:"em,omitempty"`
	ErrReason  string     `json:"er,omitempty"`
}

// header returns a message header carrying v as JSON.
func header(v any) (nats.Header, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("placement: encode: %w", err)
	}
	return nats.Header{metaHeader: []string{string(b)}}, nil
}

// meta decodes the JSON a message's header carries into v.
func meta(m *nats.Msg, v any) error {
	s := m.Header.Get(metaHeader)
	if s == "" {
		return fmt.Errorf("placement: message on %s without its %s header", m.Subject, metaHeader)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("placement: decode: %w", err)
	}
	return nil
}

// answerOf renders an invocation's outcome.
func answerOf(resp *invoke.Response, err error) *answer {
	if err != nil {
		e := function.AsError(err)
		return &answer{Kind: answerError, ErrKind: e.Kind, ErrType: e.Type, ErrMessage: e.Message, ErrReason: e.Reason}
	}
	a := &answer{Kind: answerResult, FunctionError: resp.FunctionError, Version: resp.Version, RequestID: resp.RequestID, LogTail: resp.LogTail}
	if f := resp.Failure; f != nil {
		a.FailureKind, a.FailureMsg = uint8(f.Kind), f.Message
	}
	return a
}

// outcome turns an answer back into what the invoker would have returned.
func (a *answer) outcome(payload []byte) (*invoke.Response, error) {
	if a.Kind == answerError {
		return nil, &function.Error{Kind: a.ErrKind, Type: a.ErrType, Message: a.ErrMessage, Reason: a.ErrReason}
	}
	resp := &invoke.Response{Payload: payload, FunctionError: a.FunctionError, LogTail: a.LogTail, Version: a.Version, RequestID: a.RequestID}
	if a.FailureKind != 0 {
		resp.Failure = &invoke.Failure{Kind: invoke.FailureKind(a.FailureKind), Message: a.FailureMsg}
	}
	return resp, nil
}
