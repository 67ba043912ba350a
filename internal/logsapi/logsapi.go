// Package logsapi serves the CloudWatch Logs JSON 1.1 API over the log
// store, so the AWS CLI and SDKs can read function logs (describe-log-groups,
// get-log-events, filter-log-events, logs tail).
//
// Requests are POST / with "X-Amz-Target: Logs_20140328.<Operation>" and a
// JSON body; errors use the JSON 1.1 form: status 400 (500 for server
// faults), header x-amzn-ErrorType and body {"__type": ..., "message": ...}.
// Authentication happens before this handler.
package logsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/logs"
)

// MaxBody bounds a request body (the front door's limit for the
// service); PutLogEvents batches are at most about 1 MB of events.
const MaxBody = 8 << 20

type handler struct {
	store *logs.Store
}

// New returns the API handler.
func New(store *logs.Store, logger *slog.Logger) http.Handler {
	h := &handler{store: store}
	api := &awsproto.JSONAPI{Protocol: awsproto.JSON11, Prefix: "Logs_20140328", Errors: wireError, Log: logger}
	awsproto.Handle(api, "DescribeLogGroups", h.describeLogGroups)
	awsproto.Handle(api, "DescribeLogStreams", h.describeLogStreams)
	awsproto.Handle(api, "GetLogEvents", h.getLogEvents)
	awsproto.Handle(api, "FilterLogEvents", h.filterLogEvents)
	awsproto.Handle(api, "PutLogEvents", h.putLogEvents)
	awsproto.Handle(api, "CreateLogGroup", groupOp(false, func(ctx context.Context, g, _ string) error {
		return store.CreateGroup(ctx, g)
	}))
	awsproto.Handle(api, "CreateLogStream", groupOp(true, store.CreateStream))
	awsproto.Handle(api, "DeleteLogGroup", groupOp(false, func(ctx context.Context, g, _ string) error {
		return store.DeleteGroup(ctx, g)
	}))
	awsproto.Handle(api, "DeleteLogStream", groupOp(true, store.DeleteStream))
	return api
}

func invalidParam(msg string) *awsproto.Error {
	return &awsproto.Error{Status: http.StatusBadRequest, Code: "InvalidParameterException", Message: msg}
}

func missing(field string) error {
	return invalidParam("1 validation error detected: Value null at '" + field + "' failed to satisfy constraint: Member must not be null")
}

// wireError is the table from the log store's errors to the API's.
func wireError(err error) *awsproto.Error {
	var pe *logs.ParamError
	switch {
	case errors.As(err, &pe) && pe.Param != "" && pe.Value == nil:
		return invalidParam("1 validation error detected: Value at '" + pe.Param + "' failed to satisfy constraint: " + pe.Constraint)
	case errors.As(err, &pe) && pe.Param != "":
		return invalidParam(fmt.Sprintf("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", pe.Value, pe.Param, pe.Constraint))
	case errors.As(err, &pe):
		return invalidParam(pe.Msg)
	case errors.Is(err, logs.ErrGroupNotFound):
		return awsproto.Errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
	case errors.Is(err, logs.ErrStreamNotFound):
		return awsproto.Errorf(http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
	case errors.Is(err, logs.ErrGroupExists):
		return awsproto.Errorf(http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log group already exists")
	case errors.Is(err, logs.ErrStreamExists):
		return awsproto.Errorf(http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log stream already exists")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &awsproto.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailableException", Message: "The request was cancelled or timed out.", Err: err}
	}
	return &awsproto.Error{Status: http.StatusInternalServerError, Code: "ServiceUnavailableException", Message: "The service cannot complete the request.", Err: err}
}

// limitOf checks an optional limit; 0 means the store's default.
func limitOf(l *int32) (int, error) {
	if l == nil {
		return 0, nil
	}
	if *l < 1 {
		return 0, invalidParam(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *l))
	}
	return int(*l), nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// groupName resolves logGroupName or logGroupIdentifier (a name or ARN).
func groupName(name, ident *string) (string, error) {
	switch {
	case name != nil && ident != nil:
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != nil:
		if *name == "" {
			return "", invalidParam("1 validation error detected: Value '' at 'logGroupName' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		return *name, nil
	case ident != nil:
		id := *ident
		if strings.HasPrefix(id, "arn:") {
			_, rest, ok := strings.Cut(id, ":log-group:")
			if !ok || rest == "" {
				return "", invalidParam("Invalid logGroupIdentifier.")
			}
			id = strings.TrimSuffix(rest, ":*")
		}
		if id == "" {
			return "", invalidParam("Invalid logGroupIdentifier.")
		}
		return id, nil
	}
	return "", invalidParam("Should provide either name or ARN for a log group.")
}

// DescribeLogGroups

type describeLogGroupsInput struct {
	LogGroupNamePrefix  *string `json:"logGroupNamePrefix"`
	LogGroupNamePattern *string `json:"logGroupNamePattern"`
	Limit               *int32  `json:"limit"`
	NextToken           *string `json:"nextToken"`
}

type logGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroup `json:"logGroups"`
	NextToken string     `json:"nextToken,omitempty"`
}

func (h *handler) describeLogGroups(ctx context.Context, in *describeLogGroupsInput) (*describeLogGroupsOutput, error) {
	if in.LogGroupNamePattern != nil {
		return nil, invalidParam("logGroupNamePattern is not supported; use logGroupNamePrefix.")
	}
	limit, err := limitOf(in.Limit)
	if err != nil {
		return nil, err
	}
	gs, next, err := h.store.DescribeLogGroups(ctx, str(in.LogGroupNamePrefix), limit, str(in.NextToken))
	if err != nil {
		return nil, err
	}
	out := describeLogGroupsOutput{LogGroups: make([]logGroup, len(gs)), NextToken: next}
	for i, g := range gs {
		out.LogGroups[i] = logGroup{
			LogGroupName:    g.Name,
			CreationTime:    g.CreationTime,
			RetentionInDays: g.RetentionInDays,
			Arn:             g.Arn,
			StoredBytes:     g.StoredBytes,
			LogGroupClass:   "STANDARD",
			LogGroupArn:     strings.TrimSuffix(g.Arn, ":*"),
		}
	}
	return &out, nil
}

// DescribeLogStreams

type describeLogStreamsInput struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          *bool   `json:"descending"`
	Limit               *int32  `json:"limit"`
	NextToken           *string `json:"nextToken"`
}

type logStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStream `json:"logStreams"`
	NextToken  string      `json:"nextToken,omitempty"`
}

func (h *handler) describeLogStreams(ctx context.Context, in *describeLogStreamsInput) (*describeLogStreamsOutput, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch str(in.OrderBy) {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
	default:
		return nil, invalidParam("1 validation error detected: Value '" + *in.OrderBy + "' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	limit, err := limitOf(in.Limit)
	if err != nil {
		return nil, err
	}
	desc := in.Descending != nil && *in.Descending
	ss, next, err := h.store.DescribeLogStreams(ctx, group, str(in.LogStreamNamePrefix), byTime, desc, limit, str(in.NextToken))
	if err != nil {
		return nil, err
	}
	out := describeLogStreamsOutput{LogStreams: make([]logStream, len(ss)), NextToken: next}
	for i, s := range ss {
		out.LogStreams[i] = logStream{
			LogStreamName:       s.Name,
			CreationTime:        s.CreationTime,
			FirstEventTimestamp: s.FirstEventTimestamp,
			LastEventTimestamp:  s.LastEventTimestamp,
			LastIngestionTime:   s.LastIngestionTime,
			Arn:                 s.Arn,
			StoredBytes:         s.StoredBytes,
		}
	}
	return &out, nil
}

// GetLogEvents

type getLogEventsInput struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	Limit              *int32  `json:"limit"`
	NextToken          *string `json:"nextToken"`
	StartFromHead      *bool   `json:"startFromHead"`
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputEvent `json:"events"`
	NextForwardToken  string        `json:"nextForwardToken"`
	NextBackwardToken string        `json:"nextBackwardToken"`
}

func (h *handler) getLogEvents(ctx context.Context, in *getLogEventsInput) (*getLogEventsOutput, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == nil {
		return nil, missing("logStreamName")
	}
	limit, err := limitOf(in.Limit)
	if err != nil {
		return nil, err
	}
	head := in.StartFromHead != nil && *in.StartFromHead
	evs, fwd, bwd, err := h.store.GetLogEvents(ctx, group, *in.LogStreamName, i64(in.StartTime), i64(in.EndTime), limit, str(in.NextToken), head)
	if err != nil {
		return nil, err
	}
	out := getLogEventsOutput{Events: make([]outputEvent, len(evs)), NextForwardToken: fwd, NextBackwardToken: bwd}
	for i, e := range evs {
		out.Events[i] = outputEvent{Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.Ingestion}
	}
	return &out, nil
}

// FilterLogEvents

type filterLogEventsInput struct {
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int32   `json:"limit"`
	Interleaved         *bool    `json:"interleaved"` // always interleaved
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type filterLogEventsOutput struct {
	Events             []filteredEvent     `json:"events"`
	SearchedLogStreams []searchedLogStream `json:"searchedLogStreams"`
	NextToken          string              `json:"nextToken,omitempty"`
}

func (h *handler) filterLogEvents(ctx context.Context, in *filterLogEventsInput) (*filterLogEventsOutput, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil && len(in.LogStreamNames) == 0 {
		return nil, invalidParam("1 validation error detected: Value '[]' at 'logStreamNames' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalidParam("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	limit, err := limitOf(in.Limit)
	if err != nil {
		return nil, err
	}
	evs, next, err := h.store.FilterLogEvents(ctx, group, in.LogStreamNames, str(in.LogStreamNamePrefix),
		i64(in.StartTime), i64(in.EndTime), str(in.FilterPattern), limit, str(in.NextToken))
	if err != nil {
		return nil, err
	}
	out := filterLogEventsOutput{Events: make([]filteredEvent, len(evs)), NextToken: next}
	// searchedLogStreams (deprecated upstream): the named log streams, or
	// those that had events in this page.
	searched := in.LogStreamNames
	seen := map[string]bool{}
	for i, e := range evs {
		out.Events[i] = filteredEvent{
			LogStreamName: e.Stream,
			Timestamp:     e.Timestamp,
			Message:       e.Message,
			IngestionTime: e.Ingestion,
			EventID:       e.EventID,
		}
		if in.LogStreamNames == nil && !seen[e.Stream] {
			seen[e.Stream] = true
			searched = append(searched, e.Stream)
		}
	}
	out.SearchedLogStreams = make([]searchedLogStream, len(searched))
	for i, n := range searched {
		out.SearchedLogStreams[i] = searchedLogStream{LogStreamName: n, SearchedCompletely: next == ""}
	}
	return &out, nil
}

// CreateLogGroup, CreateLogStream, DeleteLogGroup, DeleteLogStream

type groupStreamInput struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
}

type empty struct{}

func (in *groupStreamInput) names(needStream bool) (string, string, error) {
	if in.LogGroupName == nil {
		return "", "", missing("logGroupName")
	}
	if needStream && in.LogStreamName == nil {
		return "", "", missing("logStreamName")
	}
	return *in.LogGroupName, str(in.LogStreamName), nil
}

// groupOp adapts a store operation on a group (and, when needStream, a
// stream) to a handler.
func groupOp(needStream bool, op func(ctx context.Context, group, stream string) error) func(context.Context, *groupStreamInput) (*empty, error) {
	return func(ctx context.Context, in *groupStreamInput) (*empty, error) {
		g, s, err := in.names(needStream)
		if err != nil {
			return nil, err
		}
		if err := op(ctx, g, s); err != nil {
			return nil, err
		}
		return &empty{}, nil
	}
}

// PutLogEvents

type putLogEventsInput struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
	LogEvents     []struct {
		Timestamp *int64  `json:"timestamp"`
		Message   *string `json:"message"`
	} `json:"logEvents"`
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

type putLogEventsOutput struct {
	RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
}

func (h *handler) putLogEvents(ctx context.Context, in *putLogEventsInput) (*putLogEventsOutput, error) {
	gs := groupStreamInput{in.LogGroupName, in.LogStreamName}
	g, s, err := gs.names(true)
	if err != nil {
		return nil, err
	}
	if len(in.LogEvents) == 0 {
		return nil, invalidParam("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(in.LogEvents) > 10000 {
		return nil, invalidParam("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000")
	}
	evs := make([]logs.Event, len(in.LogEvents))
	for i, e := range in.LogEvents {
		if e.Timestamp == nil {
			return nil, missing(fmt.Sprintf("logEvents.%d.member.timestamp", i+1))
		}
		if e.Message == nil || *e.Message == "" {
			return nil, invalidParam(fmt.Sprintf("1 validation error detected: Value at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1))
		}
		evs[i] = logs.Event{Timestamp: *e.Timestamp, Message: *e.Message}
	}
	tooNew, expired, err := h.store.Put(ctx, g, s, evs)
	if err != nil {
		return nil, err
	}
	var out putLogEventsOutput
	if tooNew >= 0 || expired >= 0 {
		out.RejectedLogEventsInfo = &rejectedInfo{}
		if tooNew >= 0 {
			out.RejectedLogEventsInfo.TooNewLogEventStartIndex = &tooNew
		}
		if expired >= 0 {
			out.RejectedLogEventsInfo.ExpiredLogEventEndIndex = &expired
		}
	}
	return &out, nil
}
