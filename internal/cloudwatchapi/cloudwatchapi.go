// Package cloudwatchapi serves the CloudWatch metrics API (signing name
// monitoring) over package metrics, in each of the three protocols its
// clients speak, told apart per request: Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/<Op>), which the AWS
// SDK for Go v2 and recent SDKs send; AWS JSON 1.0 (X-Amz-Target:
// GraniteServiceVersion20100801.<Op>), which botocore prefers; and the
// query protocol (Action=<Op>&Version=2010-08-01, answered in XML),
// which older SDKs and CLIs send. Each operation is written once against
// the JSON shapes: the kit (awsproto) decodes CBOR by the same members
// and maps query parameters onto them.
//
// Errors carry CloudWatch's codes: the exception's name in __type
// (InvalidParameterValueException) and the query protocol's code
// (InvalidParameterValue) in x-amzn-query-error, as CloudWatch's
// query-compatible JSON and CBOR answers do.
package cloudwatchapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/metrics"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// The service's names on the wire.
const (
	// Service is the Smithy shape name: the JSON target's prefix and the
	// CBOR path's service.
	Service = "GraniteServiceVersion20100801"
	// Version is the query protocol's API version.
	Version = "2010-08-01"
	// Namespace is the query protocol's XML namespace.
	Namespace = "http://monitoring.amazonaws.com/doc/2010-08-01/"
)

// MaxBody is the largest request the API takes: PutMetricData's 1 MB
// of data, in the query protocol's longer encoding.
const MaxBody = 4 << 20

// Actions are the operations the API serves; their query actions
// recognise its unsigned requests.
var Actions = []string{"PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics",
	"PutMetricAlarm", "DescribeAlarms", "DeleteAlarms"}

// Server serves the CloudWatch API.
type Server struct {
	m     *metrics.Store
	json  *awsproto.JSONAPI // JSON 1.0 and CBOR
	query *awsproto.QueryAPI
}

// New returns the API over store m.
func New(m *metrics.Store, log *slog.Logger) *Server {
	s := &Server{m: m,
		json:  &awsproto.JSONAPI{Protocol: awsproto.JSON10Query, Prefix: Service, CBOR: Service, Errors: wireError, Log: log},
		query: &awsproto.QueryAPI{Version: Version, Namespace: Namespace, Errors: wireError, Log: log},
	}
	op(s, "PutMetricData", s.putMetricData)
	op(s, "GetMetricStatistics", s.getMetricStatistics)
	op(s, "GetMetricData", s.getMetricData)
	op(s, "ListMetrics", s.listMetrics)
	op(s, "PutMetricAlarm", s.putMetricAlarm)
	op(s, "DescribeAlarms", s.describeAlarms)
	op(s, "DeleteAlarms", s.deleteAlarms)
	return s
}

// op adds an operation in every protocol.
func op[In, Out any](s *Server, name string, fn func(context.Context, *In) (*Out, error)) {
	awsproto.Handle(s.json, name, fn)
	awsproto.HandleForm(s.query, name, fn)
}

// Recognize tells an unsigned CloudWatch request: by its CBOR path, its
// JSON target, or a query action only CloudWatch has.
func Recognize(r *http.Request) bool {
	return edge.CBOR(Service)(r) || edge.Target(Service)(r) || edge.Action(Actions...)(r)
}

// Protocol is the protocol request r speaks.
func Protocol(r *http.Request) awsproto.Protocol {
	switch {
	case strings.HasPrefix(r.URL.Path, awsproto.CBORPath(Service)):
		return awsproto.CBOR
	case r.Header.Get("X-Amz-Target") != "":
		return awsproto.JSON10Query
	}
	return awsproto.QueryXML
}

type regionKey struct{}

// region returns the region of the request being served.
func region(ctx context.Context) string {
	if r, ok := ctx.Value(regionKey{}).(string); ok && r != "" {
		return r
	}
	return awsproto.DefaultRegion
}

// maxInflated bounds a compressed request's body once inflated.
const maxInflated = 4 * MaxBody

// inflate returns a request's body as its operation reads it: the body
// itself, or inflated when the client compressed it (Content-Encoding:
// gzip, which the SDKs send for PutMetricData).
func inflate(r *http.Request, body []byte) ([]byte, *awsproto.Error) {
	if !strings.Contains(r.Header.Get("Content-Encoding"), "gzip") {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, awsproto.Errorf(http.StatusBadRequest, "SerializationException", "The request body is not gzip: %v", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, awsproto.Errorf(http.StatusBadRequest, "SerializationException", "The request body is not gzip: %v", err)
	}
	if len(b) > maxInflated {
		return nil, awsproto.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body inflates to more than %d bytes.", maxInflated)
	}
	return b, nil
}

// ServeHTTP serves one request of any of the protocols.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reg, _, _ := sigv4.Scope(r)
	r = r.WithContext(context.WithValue(r.Context(), regionKey{}, reg))
	if strings.Contains(r.Header.Get("Content-Encoding"), "gzip") {
		body, err := io.ReadAll(r.Body)
		var aerr *awsproto.Error
		if err == nil {
			body, aerr = inflate(r, body)
		}
		if err != nil || aerr != nil {
			if aerr == nil {
				aerr = awsproto.Errorf(http.StatusBadRequest, "SerializationException", "Unable to read the request body.")
			}
			awsproto.WriteError(w, r, Protocol(r), aerr, w.Header().Get("X-Amzn-Requestid"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Del("Content-Encoding")
		r.ContentLength = int64(len(body))
	}
	if Protocol(r) == awsproto.QueryXML {
		s.query.ServeHTTP(w, r)
		return
	}
	s.json.ServeHTTP(w, r)
}

// Operation is the API's table from operations to IAM actions
// (cloudwatch:<Op>) and resources: an alarm's ARN for PutMetricAlarm,
// and for DeleteAlarms of one alarm; "*" for the others.
func (s *Server) Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	body, aerr := inflate(r, body)
	if aerr != nil {
		return edge.Operation{}, aerr
	}
	var name string
	var in struct {
		AlarmName  string   `json:"AlarmName"`
		AlarmNames []string `json:"AlarmNames"`
	}
	switch Protocol(r) {
	case awsproto.QueryXML:
		p, aerr := awsproto.QueryParams(r, body)
		if aerr != nil {
			return edge.Operation{}, aerr
		}
		name = p.Get("Action")
		in.AlarmName = p.Get("AlarmName")
		if n := p.Get("AlarmNames.member.1"); n != "" && p.Get("AlarmNames.member.2") == "" {
			in.AlarmNames = []string{n}
		}
	default:
		op, ok := s.json.Operation(r)
		if !ok {
			return edge.Operation{}, nil // the API refuses it
		}
		name = op
		if Protocol(r) == awsproto.CBOR {
			awsproto.DecodeCBOR(body, &in) // a body that does not decode is the API's to refuse
		} else {
			json.Unmarshal(body, &in)
		}
	}
	if name == "" {
		return edge.Operation{}, nil
	}
	res := "*"
	alarm := ""
	switch name {
	case "PutMetricAlarm":
		alarm = in.AlarmName
	case "DeleteAlarms":
		if len(in.AlarmNames) == 1 {
			alarm = in.AlarmNames[0]
		}
	}
	if alarm != "" {
		reg, _, _ := sigv4.Scope(r)
		if reg == "" {
			reg = awsproto.DefaultRegion
		}
		res = "arn:aws:cloudwatch:" + reg + ":" + awsproto.AccountID + ":alarm:" + alarm
	}
	return edge.Operation{Action: "cloudwatch:" + name, Resource: res}, nil
}

// IAMActions returns the IAM actions of the API's operations.
func IAMActions() []string {
	out := make([]string, len(Actions))
	for i, a := range Actions {
		out[i] = "cloudwatch:" + a
	}
	return out
}

// wireError is the API's one table from errors to the wire.
func wireError(err error) *awsproto.Error {
	var me *metrics.Error
	if errors.As(err, &me) {
		return metricsError(me.Code, me.Message)
	}
	var qe *awsproto.QueryParamError
	if errors.As(err, &qe) {
		return metricsError(metrics.InvalidParameterValue, qe.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return metricsError(metrics.InvalidParameterValue, "The value for parameter "+te.Field+" is not valid: "+err.Error())
	}
	if errors.Is(err, awsproto.ErrTime) {
		return metricsError(metrics.InvalidParameterValue, "A timestamp is not valid: "+err.Error())
	}
	return &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalServiceFault", QueryCode: "InternalServiceError",
		Message: "Internal service error.", Err: err}
}

// metricsError is a refusal with CloudWatch's code: the exception's
// name for JSON and CBOR, the query code beside it.
func metricsError(code, msg string) *awsproto.Error {
	e := &awsproto.Error{Status: http.StatusBadRequest, Code: code, QueryCode: code, Message: msg}
	switch code {
	case metrics.InvalidParameterValue:
		e.Code = "InvalidParameterValueException"
	case metrics.InvalidParameterCombination:
		e.Code = "InvalidParameterCombinationException"
	case metrics.MissingParameter:
		e.Code = "MissingRequiredParameterException"
	case metrics.LimitExceeded:
		e.Code = "LimitExceededFault"
	case metrics.ResourceNotFound:
		e.Status = http.StatusNotFound
	}
	return e
}

// invalid refuses a request with InvalidParameterValue.
func invalid(msg string) error {
	return &metrics.Error{Code: metrics.InvalidParameterValue, Message: msg}
}
