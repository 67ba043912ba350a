package lambdaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/mappings"
)

// Mappings stores event source mappings (*mappings.Service).
type Mappings interface {
	Create(ctx context.Context, region string, in mappings.Input) (*mappings.Mapping, error)
	Get(id string) (*mappings.Mapping, error)
	List(functionArn, sourceArn string) []*mappings.Mapping
	Update(ctx context.Context, id string, in mappings.Input) (*mappings.Mapping, error)
	Delete(ctx context.Context, id string) (*mappings.Mapping, error)
}

// mappingInput is the body of Create/UpdateEventSourceMapping. Fields of
// Lambda's that apply to other sources are refused, not ignored.
type mappingInput struct {
	FunctionName                   string                      `json:"FunctionName"`
	EventSourceArn                 string                      `json:"EventSourceArn"`
	Enabled                        *bool                       `json:"Enabled"`
	BatchSize                      *int                        `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int                        `json:"MaximumBatchingWindowInSeconds"`
	FilterCriteria                 *mappings.Filters           `json:"FilterCriteria"`
	FunctionResponseTypes          *[]string                   `json:"FunctionResponseTypes"`
	ScalingConfig                  *mappings.ScalingConfig     `json:"ScalingConfig"`
	StartingPosition               string                      `json:"StartingPosition"`
	BisectBatchOnFunctionError     *bool                       `json:"BisectBatchOnFunctionError"`
	MaximumRetryAttempts           *int                        `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds      *int                        `json:"MaximumRecordAgeInSeconds"`
	ParallelizationFactor          *int                        `json:"ParallelizationFactor"`
	DestinationConfig              *mappings.DestinationConfig `json:"DestinationConfig"`
}

// mappingFields are the body fields mappingInput reads.
var mappingFields = map[string]bool{"FunctionName": true, "EventSourceArn": true, "Enabled": true, "BatchSize": true,
	"MaximumBatchingWindowInSeconds": true, "FilterCriteria": true, "FunctionResponseTypes": true, "ScalingConfig": true, "UUID": true,
	"StartingPosition": true, "BisectBatchOnFunctionError": true, "MaximumRetryAttempts": true, "MaximumRecordAgeInSeconds": true,
	"ParallelizationFactor": true, "DestinationConfig": true}

func decodeMapping(body []byte) (*mappingInput, error) {
	var fields map[string]json.RawMessage
	if err := decode(body, &fields); err != nil {
		return nil, err
	}
	for k, v := range fields {
		if !mappingFields[k] && string(v) != "null" {
			return nil, function.InvalidParameter("Unsupported %s parameter for the given event source mapping type: the event sources here are SQS queues and DynamoDB table streams.", k)
		}
	}
	var in mappingInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// input is the domain's view of the request.
func (in *mappingInput) input(fnArn string) mappings.Input {
	return mappings.Input{FunctionArn: fnArn, EventSourceArn: in.EventSourceArn, Enabled: in.Enabled,
		BatchSize: in.BatchSize, MaximumBatchingWindowInSeconds: in.MaximumBatchingWindowInSeconds, FilterCriteria: in.FilterCriteria,
		FunctionResponseTypes: in.FunctionResponseTypes, ScalingConfig: in.ScalingConfig, StartingPosition: in.StartingPosition,
		BisectBatchOnFunctionError: in.BisectBatchOnFunctionError, MaximumRetryAttempts: in.MaximumRetryAttempts,
		MaximumRecordAgeInSeconds: in.MaximumRecordAgeInSeconds, ParallelizationFactor: in.ParallelizationFactor, DestinationConfig: in.DestinationConfig}
}

// destination is the OnFailure destination the request names, or "".
func (in *mappingInput) destination() string {
	if in.DestinationConfig != nil && in.DestinationConfig.OnFailure != nil {
		return in.DestinationConfig.OnFailure.Destination
	}
	return ""
}

// mappingFunction resolves FunctionName (a name or an ARN, with a
// version or alias) to the function's ARN, refusing a missing function,
// version or alias.
func (s *Server) mappingFunction(region, ref string) (string, error) {
	name, qual, ok := function.ParseRef(ref)
	if !ok {
		return "", function.Validation(ref, "functionName", "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
	}
	rec, found := s.d.Registry.Get(name)
	if !found {
		return "", function.NotFound(function.ARN(region, name, qual))
	}
	if qual == "" || qual == function.LatestVersion {
		return rec.Config.FunctionArn, nil
	}
	t, err := rec.Describe(qual)
	if err != nil {
		return "", err
	}
	return t.ARN, nil
}

// checkMapping checks that the function's execution role may read the
// queue, as Lambda does, and that the caller may invoke the function:
// the mapping will do both for them.
func (s *Server) checkMapping(ctx context.Context, functionArn, sourceArn, dest string) error {
	name, _, _ := function.ParseRef(functionArn)
	rec, _ := s.d.Registry.Get(name)
	if rec != nil && s.d.CheckSourceAccess != nil {
		if strings.HasPrefix(sourceArn, "arn:aws:dynamodb:") {
			for _, a := range []string{"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"} {
				if err := s.d.CheckSourceAccess(rec.Config.Role, "dynamodb:"+a, sourceArn); err != nil {
					return function.InvalidParameter("Cannot access stream %s. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.", sourceArn)
				}
			}
		} else {
			for _, a := range []string{"ReceiveMessage", "DeleteMessage", "GetQueueAttributes"} {
				if err := s.d.CheckSourceAccess(rec.Config.Role, "sqs:"+a, sourceArn); err != nil {
					return function.InvalidParameter("The provided execution role does not have permissions to call %s on SQS", a)
				}
			}
		}
		if dest != "" {
			if err := s.checkTargets(rec.Config.Role, dest); err != nil {
				return err
			}
		}
	}
	if p := edge.Principal(ctx); p != nil && p.Kind != iam.RootPrincipal {
		if err := p.Authorize("lambda:InvokeFunction", functionArn); err != nil {
			return &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Message: err.Error() + " (the event source mapping would do it)"}
		}
	}
	return nil
}

func (s *Server) createMapping(w http.ResponseWriter, r *http.Request, req *request) error {
	if s.d.Mappings == nil {
		return function.InvalidParameter("Event source mappings are not available on this server.")
	}
	in, err := decodeMapping(req.body)
	if err != nil {
		return err
	}
	if in.FunctionName == "" {
		return function.InvalidParameter("FunctionName is required.")
	}
	if in.EventSourceArn == "" {
		return function.InvalidParameter("EventSourceArn is required.")
	}
	fnArn, err := s.mappingFunction(req.region, in.FunctionName)
	if err != nil {
		return err
	}
	if err := s.checkMapping(r.Context(), fnArn, in.EventSourceArn, in.destination()); err != nil {
		return err
	}
	m, err := s.d.Mappings.Create(r.Context(), req.region, in.input(fnArn))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, m)
	return nil
}

func (s *Server) mapping(r *http.Request) (*mappings.Mapping, error) {
	if s.d.Mappings == nil {
		return nil, function.Errorf(fault.NotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	}
	return s.d.Mappings.Get(r.PathValue("uuid"))
}

func (s *Server) getMapping(w http.ResponseWriter, r *http.Request, req *request) error {
	m, err := s.mapping(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) updateMapping(w http.ResponseWriter, r *http.Request, req *request) error {
	cur, err := s.mapping(r)
	if err != nil {
		return err
	}
	in, err := decodeMapping(req.body)
	if err != nil {
		return err
	}
	if in.EventSourceArn != "" {
		return function.InvalidParameter("EventSourceArn cannot be changed; make another mapping.")
	}
	fnArn := ""
	if in.FunctionName != "" {
		if fnArn, err = s.mappingFunction(req.region, in.FunctionName); err != nil {
			return err
		}
		if err := s.checkMapping(r.Context(), fnArn, cur.EventSourceArn, in.destination()); err != nil {
			return err
		}
	}
	if in.StartingPosition != "" {
		return function.InvalidParameter("StartingPosition cannot be changed; make another mapping.")
	}
	upd := in.input(fnArn)
	upd.EventSourceArn = ""
	m, err := s.d.Mappings.Update(r.Context(), cur.UUID, upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, m)
	return nil
}

func (s *Server) deleteMapping(w http.ResponseWriter, r *http.Request, req *request) error {
	cur, err := s.mapping(r)
	if err != nil {
		return err
	}
	m, err := s.d.Mappings.Delete(r.Context(), cur.UUID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, m)
	return nil
}

func (s *Server) listMappings(w http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	fnArn := ""
	if ref := q.Get("FunctionName"); ref != "" {
		var err error
		if fnArn, err = s.mappingFunction(req.region, ref); err != nil {
			return err
		}
	}
	maxItems := 100
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return function.Validation(v, "maxItems", "Member must have value between 1 and 10000")
		}
		maxItems = min(n, 100)
	}
	var all []*mappings.Mapping
	if s.d.Mappings != nil {
		all = s.d.Mappings.List(fnArn, q.Get("EventSourceArn"))
	}
	page, next, ok := awsproto.Page(all, func(m *mappings.Mapping) string { return m.UUID }, q.Get("Marker"), maxItems)
	if !ok {
		return function.InvalidParameter("Invalid marker: %s", q.Get("Marker"))
	}
	out := struct {
		EventSourceMappings []*mappings.Mapping `json:"EventSourceMappings"`
		NextMarker          string              `json:"NextMarker,omitempty"`
	}{EventSourceMappings: append([]*mappings.Mapping{}, page...), NextMarker: next}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mappingResource is the ARN of the mapping a request's path names.
func mappingResource(region, id string) string {
	return "arn:aws:lambda:" + region + ":" + awsproto.AccountID + ":event-source-mapping:" + strings.TrimSuffix(id, "/")
}
