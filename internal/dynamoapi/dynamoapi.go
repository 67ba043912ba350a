// Package dynamoapi serves the DynamoDB API (AWS JSON 1.0, X-Amz-Target:
// DynamoDB_20120810.<Operation>) over the table store (package tables),
// with the expression language of package itemexpr.
package dynamoapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/tables"
)

// Prefix is the API's target prefix.
const Prefix = "DynamoDB_20120810"

// MaxBody is the largest request: BatchWriteItem's 16 MB.
const MaxBody = 16 << 20

// Server serves the DynamoDB API.
type Server struct {
	t       *tables.Service
	tokens  tokens
	streams *awsproto.JSONAPI // the streams API (streams.go)
	*awsproto.JSONAPI
}

// New returns the DynamoDB API over t.
func New(t *tables.Service, log *slog.Logger) *Server {
	s := &Server{t: t, JSONAPI: &awsproto.JSONAPI{Protocol: awsproto.JSON10, Prefix: Prefix, Errors: wireError, Log: log}}
	a := s.JSONAPI
	awsproto.Handle(a, "CreateTable", s.createTable)
	awsproto.Handle(a, "DescribeTable", s.describeTable)
	awsproto.Handle(a, "ListTables", s.listTables)
	awsproto.Handle(a, "DeleteTable", s.deleteTable)
	awsproto.Handle(a, "PutItem", s.putItem)
	awsproto.Handle(a, "GetItem", s.getItem)
	awsproto.Handle(a, "DeleteItem", s.deleteItem)
	awsproto.Handle(a, "UpdateItem", s.updateItem)
	awsproto.Handle(a, "Query", s.query)
	awsproto.Handle(a, "Scan", s.scan)
	awsproto.Handle(a, "BatchGetItem", s.batchGet)
	awsproto.Handle(a, "BatchWriteItem", s.batchWrite)
	awsproto.Handle(a, "TagResource", s.tagResource)
	awsproto.Handle(a, "UntagResource", s.untagResource)
	awsproto.Handle(a, "ListTagsOfResource", s.listTags)
	awsproto.Handle(a, "DescribeLimits", s.describeLimits)
	awsproto.Handle(a, "UpdateTimeToLive", s.updateTTL)
	awsproto.Handle(a, "DescribeTimeToLive", s.describeTTL)
	awsproto.Handle(a, "TransactWriteItems", s.transactWrite)
	awsproto.Handle(a, "TransactGetItems", s.transactGet)
	awsproto.Handle(a, "UpdateTable", s.updateTable)
	s.streams = s.streamsAPI(log)
	return s
}

// wireError is the API's table from the store's and the values'
// refusals to the wire.
func wireError(err error) *awsproto.Error {
	var te *tables.Error
	if errors.As(err, &te) {
		status := awsproto.Status(te.Kind)
		if te.Kind == fault.NotFound || te.Kind == fault.Conflict || te.Kind == fault.Throttled {
			status = http.StatusBadRequest // DynamoDB answers these 400
		}
		return &awsproto.Error{Status: status, Code: te.Type, Message: te.Message, Extra: te.Item}
	}
	var ie *item.Error
	if errors.As(err, &ie) {
		return &awsproto.Error{Status: http.StatusBadRequest, Code: "ValidationException", Message: ie.Message}
	}
	var ee *itemexpr.Error
	if errors.As(err, &ee) {
		return &awsproto.Error{Status: http.StatusBadRequest, Code: "ValidationException", Message: ee.Message}
	}
	return nil
}

func validation(format string, args ...any) error {
	return &tables.Error{Kind: fault.Invalid, Type: "ValidationException", Message: sprintf(format, args...)}
}

func region(ctx context.Context) string {
	if _, id, ok := edge.Verified(ctx); ok && id.Region != "" {
		return id.Region
	}
	return awsproto.DefaultRegion
}

// exprs are a request's expression parameters.
type exprs struct {
	ExpressionAttributeNames    map[string]string      `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues   map[string]*item.Value `json:"ExpressionAttributeValues"`
	ReturnConsumedCapacity      string                 `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics string                 `json:"ReturnItemCollectionMetrics"`
	// The legacy parameters, refused: expressions do all they did.
	Expected            json.RawMessage `json:"Expected"`
	AttributeUpdates    json.RawMessage `json:"AttributeUpdates"`
	KeyConditions       json.RawMessage `json:"KeyConditions"`
	QueryFilter         json.RawMessage `json:"QueryFilter"`
	ScanFilter          json.RawMessage `json:"ScanFilter"`
	AttributesToGet     json.RawMessage `json:"AttributesToGet"`
	ConditionalOperator string          `json:"ConditionalOperator"`
	params              *itemexpr.Params
}

func (e *exprs) check() error {
	for name, raw := range map[string]json.RawMessage{"Expected": e.Expected, "AttributeUpdates": e.AttributeUpdates, "KeyConditions": e.KeyConditions,
		"QueryFilter": e.QueryFilter, "ScanFilter": e.ScanFilter, "AttributesToGet": e.AttributesToGet} {
		if len(raw) > 0 && string(raw) != "null" {
			return validation("The legacy parameter %s is not supported here; use the expression parameters instead.", name)
		}
	}
	if e.ConditionalOperator != "" {
		return validation("The legacy parameter ConditionalOperator is not supported here; use the expression parameters instead.")
	}
	if e.ExpressionAttributeNames != nil && len(e.ExpressionAttributeNames) == 0 {
		return validation("ExpressionAttributeNames must not be empty")
	}
	if e.ExpressionAttributeValues != nil && len(e.ExpressionAttributeValues) == 0 {
		return validation("ExpressionAttributeValues must not be empty")
	}
	for k := range e.ExpressionAttributeNames {
		if !strings.HasPrefix(k, "#") {
			return validation("ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"", k)
		}
	}
	for k := range e.ExpressionAttributeValues {
		if !strings.HasPrefix(k, ":") {
			return validation("ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"", k)
		}
	}
	switch e.ReturnConsumedCapacity {
	case "", "NONE", "TOTAL", "INDEXES":
	default:
		return validation("1 validation error detected: Value '%s' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]", e.ReturnConsumedCapacity)
	}
	e.params = &itemexpr.Params{Names: e.ExpressionAttributeNames, Values: e.ExpressionAttributeValues}
	return nil
}

// condition parses an optional condition or filter expression.
func (e *exprs) condition(kind string, expr *string) (*itemexpr.Condition, error) {
	if expr == nil {
		return nil, nil
	}
	return itemexpr.ParseCondition(kind, *expr, e.params)
}

// projection parses an optional projection expression.
func (e *exprs) projection(expr *string) ([]itemexpr.Path, error) {
	if expr == nil {
		return nil, nil
	}
	return itemexpr.ParseProjection(*expr, e.params)
}

// capacity is ConsumedCapacity, as asked for: units as DynamoDB counts
// them (4 KB a read unit, halved for eventually consistent reads; 1 KB a
// write unit).
func (e *exprs) capacity(table string, size int, write, consistent bool) map[string]any {
	if e.ReturnConsumedCapacity == "" || e.ReturnConsumedCapacity == "NONE" {
		return nil
	}
	var units float64
	if write {
		units = math.Max(1, math.Ceil(float64(size)/1024))
	} else {
		units = math.Max(1, math.Ceil(float64(size)/4096))
		if !consistent {
			units /= 2
		}
	}
	out := map[string]any{"TableName": table, "CapacityUnits": units}
	if write {
		out["WriteCapacityUnits"] = units
	} else {
		out["ReadCapacityUnits"] = units
	}
	return out
}

// Operation is the DynamoDB API's table from requests to IAM actions and
// resources: dynamodb:<Operation> on the table the request names (the
// first of a batch's; the handler authorizes the others), or on the
// index a Query or Scan reads.
func Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	target := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(target, StreamsPrefix+"."); ok && op != "" {
		// On the stream the request names (the iterator's is sealed
		// in it: GetRecords asks on any).
		var in struct {
			StreamArn string `json:"StreamArn"`
		}
		json.Unmarshal(body, &in)
		res := in.StreamArn
		if res == "" {
			res = "*"
		}
		return edge.Operation{Action: "dynamodb:" + op, Resource: res}, nil
	}
	op, ok := strings.CutPrefix(target, Prefix+".")
	if !ok || op == "" {
		return edge.Operation{}, nil
	}
	var in struct {
		TableName     string                     `json:"TableName"`
		IndexName     string                     `json:"IndexName"`
		ResourceArn   string                     `json:"ResourceArn"`
		RequestItems  map[string]json.RawMessage `json:"RequestItems"`
		TransactItems []map[string]struct {
			TableName string `json:"TableName"`
		} `json:"TransactItems"`
	}
	json.Unmarshal(body, &in) // a body that is not JSON is the API's to refuse
	name := in.TableName
	if in.ResourceArn != "" {
		name = tables.TableName(in.ResourceArn)
	}
	if name == "" && len(in.TransactItems) > 0 {
		for _, a := range in.TransactItems {
			for _, op := range a {
				if op.TableName != "" && (name == "" || op.TableName < name) {
					name = op.TableName
				}
			}
		}
	}
	if name == "" && len(in.RequestItems) > 0 {
		names := make([]string, 0, len(in.RequestItems))
		for n := range in.RequestItems {
			names = append(names, n)
		}
		name = minString(names)
	}
	if name == "" {
		return edge.Operation{Action: "dynamodb:" + op, Resource: "*"}, nil
	}
	reg, _, _ := sigv4.Scope(r)
	if reg == "" {
		reg = awsproto.DefaultRegion
	}
	res := "arn:aws:dynamodb:" + reg + ":" + tables.Account + ":table/" + tables.TableName(name)
	if in.IndexName != "" && (op == "Query" || op == "Scan") {
		res += "/index/" + in.IndexName // as AWS authorizes a read of an index
	}
	return edge.Operation{Action: "dynamodb:" + op, Resource: res}, nil
}

// authorizeTables checks that the signer of ctx may perform action on
// each of a batch's tables.
func authorizeTables(ctx context.Context, action string, names []string) error {
	p := edge.Principal(ctx)
	if p == nil || p.Kind == iam.RootPrincipal {
		return nil
	}
	for _, n := range names {
		if err := p.Authorize(action, "arn:aws:dynamodb:"+region(ctx)+":"+tables.Account+":table/"+n); err != nil {
			return &awsproto.Error{Status: http.StatusBadRequest, Code: "AccessDeniedException", Message: err.Error()}
		}
	}
	return nil
}

// Actions returns the IAM actions of the DynamoDB API's operations.
func Actions() []string {
	var out []string
	s := New(nil, nil)
	for _, op := range append(s.Operations(), s.streams.Operations()...) {
		out = append(out, "dynamodb:"+op)
	}
	return out
}
