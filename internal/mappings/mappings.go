// Package mappings runs Lambda's event source mappings: pollers that read
// batches from an event source and invoke a function with each, the way
// Lambda's do. The engine is the source's: a source hands out batches of
// records and settles them (deletes what was handled, leaves the rest to
// come back); the mapping filters records, sizes batches (BatchSize, the
// batching window), invokes the function synchronously, reads its
// partial batch response, and scales its pollers.
//
// SQS queues (package queues) are the source here. Mappings are
// documents in the key-value bucket aloft_mappings, followed on every
// node; every node polls every enabled queue mapping, and the queue hands
// each message to one of them. A table stream mapping is read by one node
// at a time, the holder of its lease, so that its records are delivered
// in order (stream.go).
package mappings

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/eventfilter"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lazy"
	"github.com/aloft-dev/aloft/internal/lease"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/tables"
)

const bucket = "aloft_mappings"

// Mapping is an event source mapping, in the shape of Lambda's
// EventSourceMappingConfiguration.
type Mapping struct {
	UUID                           string         `json:"UUID"`
	EventSourceMappingArn          string         `json:"EventSourceMappingArn"`
	FunctionArn                    string         `json:"FunctionArn"`
	EventSourceArn                 string         `json:"EventSourceArn"`
	BatchSize                      int            `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int            `json:"MaximumBatchingWindowInSeconds"`
	FilterCriteria                 *Filters       `json:"FilterCriteria,omitempty"`
	FunctionResponseTypes          []string       `json:"FunctionResponseTypes,omitempty"`
	ScalingConfig                  *ScalingConfig `json:"ScalingConfig,omitempty"`
	State                          string         `json:"State"`
	StateTransitionReason          string         `json:"StateTransitionReason"`
	LastModified                   float64        `json:"LastModified"`
	LastProcessingResult           string         `json:"LastProcessingResult,omitempty"`
	// Stream sources' settings.
	StartingPosition           string             `json:"StartingPosition,omitempty"`
	BisectBatchOnFunctionError *bool              `json:"BisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts       *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds  *int               `json:"MaximumRecordAgeInSeconds,omitempty"`
	ParallelizationFactor      *int               `json:"ParallelizationFactor,omitempty"`
	DestinationConfig          *DestinationConfig `json:"DestinationConfig,omitempty"`
	rev                        uint64
}

// DestinationConfig is where a stream mapping sends what it gives up on.
type DestinationConfig struct {
	OnFailure *struct {
		Destination string `json:"Destination,omitempty"`
	} `json:"OnFailure,omitempty"`
}

// stream says whether the mapping reads a table's stream.
func (m *Mapping) stream() bool { return strings.Contains(m.EventSourceArn, ":table/") }

// Filters is a mapping's FilterCriteria.
type Filters struct {
	Filters []Filter `json:"Filters"`
}

// Filter is one filter: an event pattern (package eventfilter).
type Filter struct {
	Pattern string `json:"Pattern"`
}

// ScalingConfig bounds a mapping's concurrent invocations.
type ScalingConfig struct {
	MaximumConcurrency *int `json:"MaximumConcurrency,omitempty"`
}

// function returns the bare name of the mapping's function.
func (m *Mapping) function() string {
	parts := strings.Split(m.FunctionArn, ":")
	if len(parts) >= 7 {
		return parts[6]
	}
	return m.FunctionArn
}

// target returns what the mapping invokes: the function's name, with
// ":qualifier" when its ARN names a version or alias.
func (m *Mapping) target() string {
	parts := strings.Split(m.FunctionArn, ":")
	if len(parts) >= 8 {
		return parts[6] + ":" + parts[7]
	}
	return m.function()
}

func (m *Mapping) enabled() bool { return m.State == "Enabled" }

// Deps are what mappings need of the rest of the server.
type Deps struct {
	Queues *queues.Service
	// Invoke invokes function name synchronously with payload,
	// returning its answer and, when it failed, its FunctionError.
	Invoke func(ctx context.Context, name string, payload []byte) (answer []byte, functionError string, err error)
	// Reserved returns function name's reserved concurrency, which
	// bounds its mappings' pollers (ok false: none is reserved); nil
	// means none.
	Reserved func(name string) (n int, ok bool)
	// Tables serves table stream sources; nil refuses them.
	Tables *tables.Service
	// Send delivers a stream mapping's failure record to its OnFailure
	// queue or topic.
	Send func(ctx context.Context, arn string, body []byte) error
	Log  *slog.Logger
	// IteratorAge, when set, is told each stream mapping's iterator age
	// as each round is read, with the mapping's function ARN, for
	// metrics. It must be quick.
	IteratorAge func(functionArn string, age time.Duration)
	// Leases decide which node reads each table stream mapping
	// (LeaseName); nil opens leases of the service's own on the backbone.
	Leases *lease.Leases
}

// Service keeps the mappings and runs their pollers. Create it with Open.
type Service struct {
	d  Deps
	js jetstream.JetStream
	kv jetstream.KeyValue

	buckets lazy.Value[streamState] // opened by the first table stream mapping's poller

	log    *slog.Logger
	follow *follow.Follower

	revs    follow.Revisions // what the views have applied
	mu      sync.Mutex
	all     map[string]*Mapping // by UUID
	pollers map[string]runner   // running, by UUID
	ages    sync.Map            // stream mappings' iterator ages, by UUID
	started bool
	closed  bool
}

// Open opens the mappings on the backbone; Start starts polling.
func Open(ctx context.Context, js jetstream.JetStream, d Deps) (*Service, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("mappings: bucket: %w", err)
	}
	s := &Service{d: d, js: js, kv: kv, log: d.Log, all: map[string]*Mapping{}, pollers: map[string]runner{}}
	if s.follow, err = follow.KV(ctx, kv, s.apply, nil); err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	return s, nil
}

// Start starts polling every enabled mapping, and from then on each one
// that is made or enabled.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for _, m := range s.all {
		s.reconcile(m)
	}
}

// Close stops every poller, waiting for their batches in flight.
func (s *Service) Close() {
	s.follow.Stop()
	s.mu.Lock()
	s.closed = true
	ps := make([]runner, 0, len(s.pollers))
	for id, p := range s.pollers {
		ps = append(ps, p)
		delete(s.pollers, id)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.close()
	}
	if b, ok := s.buckets.Made(); ok && b.ownLeases {
		b.leases.Close()
	}
}

func (s *Service) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.revs.Applied(e.Revision())
	id := e.Key()
	if follow.Deleted(e) {
		delete(s.all, id)
		if p := s.pollers[id]; p != nil {
			delete(s.pollers, id)
			go func() {
				p.close()
				s.ages.Delete(id)
			}()
		}
		return
	}
	var m Mapping
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		s.log.Error("mappings: a damaged mapping is skipped", "uuid", id, "err", err)
		return
	}
	m.rev = e.Revision()
	s.all[id] = &m
	if s.started {
		s.reconcile(&m)
	}
}

// reconcile starts, restarts or stops m's poller to match it. s.mu is
// held.
func (s *Service) reconcile(m *Mapping) {
	if s.closed {
		return
	}
	if p := s.pollers[m.UUID]; p != nil {
		if p.revision() == m.rev {
			return
		}
		delete(s.pollers, m.UUID)
		go p.close()
	}
	if m.enabled() {
		var p runner
		if m.stream() {
			p = s.newStreamPoller(*m)
		} else {
			p = s.newPoller(*m)
		}
		s.pollers[m.UUID] = p
		p.start()
	}
}

func (s *Service) waitFor(rev uint64) { s.revs.Wait(rev) }

// runner is a mapping's poller: of a queue (poller) or of a table's
// stream (streamPoller).
type runner interface {
	start()
	close()
	revision() uint64
}

// Input is what CreateEventSourceMapping and UpdateEventSourceMapping
// set; nil fields are left as they are (or take their defaults).
type Input struct {
	FunctionArn                    string
	EventSourceArn                 string
	Enabled                        *bool
	BatchSize                      *int
	MaximumBatchingWindowInSeconds *int
	FilterCriteria                 *Filters
	FunctionResponseTypes          *[]string
	ScalingConfig                  *ScalingConfig
	StartingPosition               string
	BisectBatchOnFunctionError     *bool
	MaximumRetryAttempts           *int
	MaximumRecordAgeInSeconds      *int
	ParallelizationFactor          *int
	DestinationConfig              *DestinationConfig
}

// Create makes a mapping from an SQS queue to a function. It returns
// the mapping as Lambda answers a creation: in state Creating.
func (s *Service) Create(ctx context.Context, region string, in Input) (*Mapping, error) {
	stream := strings.HasPrefix(in.EventSourceArn, "arn:aws:dynamodb:") && strings.Contains(in.EventSourceArn, "/stream/")
	switch {
	case stream:
		if s.d.Tables == nil {
			return nil, function.InvalidParameter("Unsupported event source type: tables are not available on this server.")
		}
		if _, err := s.d.Tables.DescribeStream(ctx, in.EventSourceArn); err != nil {
			return nil, function.InvalidParameter("Stream not found: %s", in.EventSourceArn)
		}
		if in.StartingPosition != "TRIM_HORIZON" && in.StartingPosition != "LATEST" {
			return nil, function.InvalidParameter("1 validation error detected: Value '%s' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST]", in.StartingPosition)
		}
	case strings.HasPrefix(in.EventSourceArn, "arn:aws:sqs:"):
		queue := in.EventSourceArn[strings.LastIndexByte(in.EventSourceArn, ':')+1:]
		if _, err := s.d.Queues.Get(queue); err != nil {
			return nil, function.InvalidParameter("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.")
		}
		for name, set := range map[string]bool{"StartingPosition": in.StartingPosition != "", "BisectBatchOnFunctionError": in.BisectBatchOnFunctionError != nil,
			"MaximumRetryAttempts": in.MaximumRetryAttempts != nil, "MaximumRecordAgeInSeconds": in.MaximumRecordAgeInSeconds != nil,
			"ParallelizationFactor": in.ParallelizationFactor != nil, "DestinationConfig": in.DestinationConfig != nil} {
			if set {
				return nil, function.InvalidParameter("Unsupported %s parameter for the given event source mapping type: SQS.", name)
			}
		}
	default:
		return nil, function.InvalidParameter("Unsupported event source type: the event sources here are SQS queues and DynamoDB table streams.")
	}
	s.mu.Lock()
	for _, old := range s.all {
		if old.EventSourceArn == in.EventSourceArn && old.FunctionArn == in.FunctionArn {
			s.mu.Unlock()
			return nil, function.Errorf(fault.Conflict, "ResourceConflictException",
				"An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s",
				in.EventSourceArn, in.FunctionArn, old.UUID)
		}
	}
	s.mu.Unlock()
	id := ids.New()
	m := &Mapping{UUID: id, EventSourceMappingArn: "arn:aws:lambda:" + region + ":" + accountOf(in.FunctionArn) + ":event-source-mapping:" + id,
		FunctionArn: in.FunctionArn, EventSourceArn: in.EventSourceArn, BatchSize: 10, State: "Enabled", StateTransitionReason: "USER_INITIATED"}
	if stream {
		m.BatchSize, m.StartingPosition = 100, in.StartingPosition
		neg := -1
		m.MaximumRetryAttempts, m.MaximumRecordAgeInSeconds = &neg, &neg
		f := false
		m.BisectBatchOnFunctionError = &f
		one := 1
		m.ParallelizationFactor = &one
	}
	if err := apply(m, in); err != nil {
		return nil, err
	}
	if stream {
		// The position is fixed now: LATEST means the records after
		// the mapping was made.
		start, err := s.d.Tables.StreamStart(ctx, m.EventSourceArn, m.StartingPosition)
		if err != nil {
			return nil, err
		}
		if err := s.savePosition(ctx, id, start); err != nil {
			return nil, err
		}
	}
	if err := checkFifo(m); err != nil {
		return nil, err
	}
	m.LastModified = float64(time.Now().UnixMilli()) / 1000
	doc, _ := json.Marshal(m)
	rev, err := s.kv.Create(ctx, id, doc)
	if err != nil {
		return nil, fmt.Errorf("mappings: create: %w", err)
	}
	s.waitFor(rev)
	out := *m
	out.State = "Creating"
	return &out, nil
}

func accountOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 4 && parts[4] != "" {
		return parts[4]
	}
	return "000000000000"
}

// apply sets in's fields on m and checks the result as Lambda does for
// an SQS source.
func apply(m *Mapping, in Input) error {
	if in.Enabled != nil {
		m.State = map[bool]string{true: "Enabled", false: "Disabled"}[*in.Enabled]
	}
	if in.BatchSize != nil {
		m.BatchSize = *in.BatchSize
	}
	if in.MaximumBatchingWindowInSeconds != nil {
		m.MaximumBatchingWindowInSeconds = *in.MaximumBatchingWindowInSeconds
	}
	if in.FilterCriteria != nil {
		m.FilterCriteria = in.FilterCriteria
		if len(in.FilterCriteria.Filters) == 0 {
			m.FilterCriteria = nil
		}
	}
	if in.FunctionResponseTypes != nil {
		m.FunctionResponseTypes = *in.FunctionResponseTypes
	}
	if in.ScalingConfig != nil {
		if m.stream() {
			return function.InvalidParameter("Unsupported ScalingConfig parameter for the given event source mapping type: DynamoDBStreams.")
		}
		m.ScalingConfig = in.ScalingConfig
		if in.ScalingConfig.MaximumConcurrency == nil {
			m.ScalingConfig = nil
		}
	}
	if in.BisectBatchOnFunctionError != nil {
		m.BisectBatchOnFunctionError = in.BisectBatchOnFunctionError
	}
	if in.MaximumRetryAttempts != nil {
		if n := *in.MaximumRetryAttempts; n < -1 || n > 10000 {
			return function.Validation(n, "maximumRetryAttempts", "Member must have value less than or equal to 10000")
		}
		m.MaximumRetryAttempts = in.MaximumRetryAttempts
	}
	if in.MaximumRecordAgeInSeconds != nil {
		if n := *in.MaximumRecordAgeInSeconds; n != -1 && (n < 60 || n > 604800) {
			return function.Validation(n, "maximumRecordAgeInSeconds", "Member must have value between 60 and 604800, or -1")
		}
		m.MaximumRecordAgeInSeconds = in.MaximumRecordAgeInSeconds
	}
	if in.ParallelizationFactor != nil {
		switch n := *in.ParallelizationFactor; {
		case n < 1:
			return function.Validation(n, "parallelizationFactor", "Member must have value greater than or equal to 1")
		case n > 10:
			return function.Validation(n, "parallelizationFactor", "Member must have value less than or equal to 10")
		}
		m.ParallelizationFactor = in.ParallelizationFactor
	}
	if in.DestinationConfig != nil {
		if d := in.DestinationConfig.OnFailure; d != nil && d.Destination != "" && !function.ValidTarget(d.Destination) {
			return function.InvalidParameter("The destination ARN %s is not supported here; use a standard SQS queue, an SNS topic or a function.", d.Destination)
		}
		m.DestinationConfig = in.DestinationConfig
	}
	if m.BatchSize < 1 || m.BatchSize > 10000 {
		return function.Validation(m.BatchSize, "batchSize", "Member must have value less than or equal to 10000")
	}
	if m.MaximumBatchingWindowInSeconds < 0 || m.MaximumBatchingWindowInSeconds > 300 {
		return function.Validation(m.MaximumBatchingWindowInSeconds, "maximumBatchingWindowInSeconds", "Member must have value less than or equal to 300")
	}
	if !m.stream() && m.BatchSize > 10 && m.MaximumBatchingWindowInSeconds < 1 {
		return function.InvalidParameter("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	}
	for _, t := range m.FunctionResponseTypes {
		if t != "ReportBatchItemFailures" {
			return function.Validation(m.FunctionResponseTypes, "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]")
		}
	}
	if f := m.FilterCriteria; f != nil {
		if len(f.Filters) > 5 {
			return function.InvalidParameter("The number of filters exceeds the limit of 5.")
		}
		for _, p := range f.Filters {
			if len(p.Pattern) > 4096 {
				return function.InvalidParameter("Invalid filter pattern definition: a pattern is at most 4096 characters.")
			}
			if _, err := eventfilter.Parse([]byte(p.Pattern)); err != nil {
				return function.InvalidParameter("Invalid filter pattern definition: %v", err)
			}
		}
	}
	if c := m.ScalingConfig; c != nil && (*c.MaximumConcurrency < 2 || *c.MaximumConcurrency > 1000) {
		return function.Validation(*c.MaximumConcurrency, "scalingConfig.maximumConcurrency", "Member must have value between 2 and 1000")
	}
	return nil
}

// checkFifo refuses what Lambda refuses for a FIFO queue: batches over
// ten and a batching window.
func checkFifo(m *Mapping) error {
	if !strings.HasSuffix(m.EventSourceArn, ".fifo") {
		return nil
	}
	if m.BatchSize > 10 {
		return function.InvalidParameter("Batch size for a FIFO queue must be between 1 and 10.")
	}
	if m.MaximumBatchingWindowInSeconds > 0 {
		return function.InvalidParameter("Batching window is not supported for FIFO queues.")
	}
	return nil
}

// Get returns mapping id.
func (s *Service) Get(id string) (*Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.all[id]
	if m == nil {
		return nil, function.Errorf(fault.NotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	}
	c := *m
	return &c, nil
}

// List returns the mappings of a function ARN and/or an event source ARN
// ("" for any), ordered by UUID.
func (s *Service) List(functionArn, sourceArn string) []*Mapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Mapping
	for _, m := range s.all {
		if (functionArn == "" || m.FunctionArn == functionArn) && (sourceArn == "" || m.EventSourceArn == sourceArn) {
			c := *m
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *Mapping) int { return cmp.Compare(a.UUID, b.UUID) })
	return out
}

// Update changes mapping id; the answer's state is Updating, or Enabling
// or Disabling when Enabled changed it.
func (s *Service) Update(ctx context.Context, id string, in Input) (*Mapping, error) {
	for range 10 {
		cur, err := s.Get(id)
		if err != nil {
			return nil, err
		}
		m := *cur
		was := m.State
		if in.FunctionArn != "" {
			m.FunctionArn = in.FunctionArn
		}
		if err := apply(&m, in); err != nil {
			return nil, err
		}
		if err := checkFifo(&m); err != nil {
			return nil, err
		}
		m.LastModified = float64(time.Now().UnixMilli()) / 1000
		doc, _ := json.Marshal(&m)
		rev, err := s.kv.Update(ctx, id, doc, cur.rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mappings: update: %w", err)
		}
		s.waitFor(rev)
		switch {
		case was != m.State && m.State == "Enabled":
			m.State = "Enabling"
		case was != m.State:
			m.State = "Disabling"
		default:
			m.State = "Updating"
		}
		return &m, nil
	}
	return nil, function.Errorf(fault.Conflict, "ResourceInUseException", "The mapping is being changed by another request; try again.")
}

// Delete removes mapping id, stopping its pollers; the answer is the
// mapping in state Deleting.
func (s *Service) Delete(ctx context.Context, id string) (*Mapping, error) {
	m, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("mappings: delete: %w", err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := s.Get(id); err != nil {
			break
		}
	}
	m.State = "Deleting"
	return m, nil
}
