// Package scheduler keeps EventBridge Scheduler–compatible schedules on the
// backbone and fires each one as an asynchronous invocation of its target
// function, so the queue's retries and destinations apply. Each schedule
// remembers the scheduled time it last fired for; ticks missed while the
// server was down fire once when it starts again, not once per tick. The
// events a schedule sends carry an id derived from the schedule and the
// scheduled time, so a tick fired twice (a crash between sending and
// recording it) is stored once.
package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/schedule"
)

const bucket = "aloft_schedules"

// Schedule is a schedule as the Scheduler API shows it.
type Schedule struct {
	Arn                        string             `json:"Arn"`
	Name                       string             `json:"Name"`
	GroupName                  string             `json:"GroupName"`
	ScheduleExpression         string             `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string             `json:"ScheduleExpressionTimezone,omitempty"`
	StartDate                  *float64           `json:"StartDate,omitempty"` // epoch seconds
	EndDate                    *float64           `json:"EndDate,omitempty"`
	State                      string             `json:"State"`
	Description                string             `json:"Description,omitempty"`
	FlexibleTimeWindow         FlexibleTimeWindow `json:"FlexibleTimeWindow"`
	Target                     Target             `json:"Target"`
	ActionAfterCompletion      string             `json:"ActionAfterCompletion,omitempty"`
	CreationDate               float64            `json:"CreationDate"`
	LastModificationDate       float64            `json:"LastModificationDate"`
}

// FlexibleTimeWindow is accepted as given; Aloft fires at the start of the
// window.
type FlexibleTimeWindow struct {
	Mode                   string `json:"Mode"`
	MaximumWindowInMinutes *int   `json:"MaximumWindowInMinutes,omitempty"`
}

// Target is the function a schedule invokes and the event it sends.
type Target struct {
	Arn              string            `json:"Arn"`
	RoleArn          string            `json:"RoleArn"`
	Input            string            `json:"Input,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// RetryPolicy is stored and shown; retries of the invocation itself follow
// the function's event-invoke configuration.
type RetryPolicy struct {
	MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
}

// DeadLetterConfig is stored and shown.
type DeadLetterConfig struct {
	Arn string `json:"Arn,omitempty"`
}

// record is a schedule as stored, with its firing state.
type record struct {
	Schedule  Schedule `json:"schedule"`
	LastFired int64    `json:"lastFired,omitempty"` // ms: the scheduled time last fired for

	expr schedule.Expr
}

// Queue stores the invocations schedules send.
type Queue interface {
	Enqueue(ctx context.Context, ev *async.Event) error
}

// Deps are the scheduler's collaborators.
type Deps struct {
	Queue  Queue
	Logger *slog.Logger
	Now    func() time.Time
	Region string // for schedule ARNs (default us-east-1)
}

// Scheduler holds and fires schedules. Its methods are safe for concurrent
// use.
type Scheduler struct {
	d   Deps
	kv  jetstream.KeyValue
	log *slog.Logger

	mu     sync.Mutex
	recs   map[string]*record // guarded by mu; by key()
	groups map[string]float64 // guarded by mu; group name → creation time

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func key(group, name string) string { return "s/" + group + "/" + name }

// Open loads every schedule. Call Start to fire them.
func Open(ctx context.Context, js jetstream.JetStream, d Deps) (*Scheduler, error) {
	if d.Queue == nil {
		return nil, errors.New("scheduler: Queue is required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Region == "" {
		d.Region = function.DefaultRegion
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("scheduler: open bucket: %w", err)
	}
	s := &Scheduler{d: d, kv: kv, log: d.Logger, recs: map[string]*record{}, groups: map[string]float64{"default": 0},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("scheduler: list: %w", err)
	}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		if g, ok := strings.CutPrefix(k, "g/"); ok {
			var created float64
			json.Unmarshal(e.Value(), &created)
			s.groups[g] = created
			continue
		}
		var rec record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			s.log.Error("scheduler: unreadable schedule", "key", k, "err", err)
			continue
		}
		if rec.expr, err = parse(&rec.Schedule); err != nil {
			s.log.Error("scheduler: schedule no longer parses", "key", k, "err", err)
			continue
		}
		s.recs[k] = &rec
	}
	return s, nil
}

// parse compiles a schedule's expression in its time zone, counting rate
// periods from its start date or creation.
func parse(sc *Schedule) (schedule.Expr, error) {
	loc := time.UTC
	if sc.ScheduleExpressionTimezone != "" {
		var err error
		if loc, err = time.LoadLocation(sc.ScheduleExpressionTimezone); err != nil {
			return nil, fmt.Errorf("invalid time zone %q", sc.ScheduleExpressionTimezone)
		}
	}
	anchor := seconds(sc.CreationDate)
	if sc.StartDate != nil {
		anchor = seconds(*sc.StartDate)
	}
	return schedule.ParseWithAnchor(sc.ScheduleExpression, loc, anchor)
}

func seconds(f float64) time.Time { return time.UnixMilli(int64(f * 1000)) }

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// Start fires schedules until Close.
func (s *Scheduler) Start() { go s.run() }

// Close stops firing and waits for the loop to end.
func (s *Scheduler) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler: close: %w", ctx.Err())
	}
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run fires due schedules and sleeps until the next one is due.
func (s *Scheduler) run() {
	defer close(s.done)
	for {
		next := s.fireDue(s.d.Now())
		wait := time.Minute
		if !next.IsZero() {
			wait = min(max(time.Until(next), 0), time.Minute)
		}
		t := time.NewTimer(wait)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// fireDue fires every schedule with a tick at or before now (once, for the
// latest such tick) and returns the earliest tick still to come.
func (s *Scheduler) fireDue(now time.Time) time.Time {
	s.mu.Lock()
	keys := make([]string, 0, len(s.recs))
	for k := range s.recs {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	var earliest time.Time
	for _, k := range keys {
		next := s.fireOne(k, now)
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
	}
	return earliest
}

// fireOne fires schedule k if it is due and returns its next tick.
func (s *Scheduler) fireOne(k string, now time.Time) time.Time {
	s.mu.Lock()
	rec := s.recs[k]
	if rec == nil || rec.Schedule.State != "ENABLED" {
		s.mu.Unlock()
		return time.Time{}
	}
	sc := rec.Schedule
	from := seconds(sc.CreationDate)
	if rec.LastFired != 0 {
		from = time.UnixMilli(rec.LastFired)
	} else if sc.StartDate != nil {
		from = seconds(*sc.StartDate).Add(-time.Millisecond)
	}
	expr := rec.expr
	s.mu.Unlock()

	tick := expr.Next(from)
	if tick.IsZero() || tick.After(now) {
		return s.bounded(sc, tick)
	}
	// Due: skip to the latest tick at or before now, so a long outage
	// fires once.
	for i := 0; i < 1_000_000; i++ {
		n := expr.Next(tick)
		if n.IsZero() || n.After(now) {
			break
		}
		tick = n
	}
	if sc.EndDate != nil && tick.After(seconds(*sc.EndDate)) {
		return time.Time{}
	}
	if err := s.fire(&sc, tick); err != nil {
		s.log.Warn("scheduler: fire failed; will try again", "schedule", sc.Arn, "err", err)
		return now.Add(5 * time.Second)
	}
	s.mu.Lock()
	if cur := s.recs[k]; cur == rec {
		rec.LastFired = tick.UnixMilli()
		s.save(k, rec)
	}
	s.mu.Unlock()
	next := expr.Next(tick)
	if next.IsZero() && sc.ActionAfterCompletion == "DELETE" {
		if err := s.Delete(context.Background(), sc.GroupName, sc.Name); err != nil {
			s.log.Warn("scheduler: could not delete a completed schedule", "schedule", sc.Arn, "err", err)
		}
	}
	return s.bounded(sc, next)
}

// bounded drops a tick past the schedule's end date.
func (s *Scheduler) bounded(sc Schedule, tick time.Time) time.Time {
	if sc.EndDate != nil && tick.After(seconds(*sc.EndDate)) {
		return time.Time{}
	}
	return tick
}

// fire sends the schedule's event for the tick at scheduled.
func (s *Scheduler) fire(sc *Schedule, scheduled time.Time) error {
	sum := sha256.Sum256([]byte(sc.Arn + "@" + scheduled.UTC().Format(time.RFC3339)))
	execID := hex.EncodeToString(sum[:16])
	input := sc.Target.Input
	if input == "" {
		input = "{}"
	}
	input = strings.NewReplacer(
		"<aws.scheduler.schedule-arn>", sc.Arn,
		"<aws.scheduler.scheduled-time>", scheduled.UTC().Format(time.RFC3339),
		"<aws.scheduler.execution-id>", execID,
		"<aws.scheduler.attempt-number>", "1",
	).Replace(input)
	name, qualifier, _ := function.ParseRef(sc.Target.Arn)
	ev := &async.Event{ID: "schedule-" + execID, Function: name, Qualifier: qualifier, Payload: json.RawMessage(input)}
	if !json.Valid(ev.Payload) {
		b, _ := json.Marshal(input) // a non-JSON Input is sent as a JSON string
		ev.Payload = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.d.Queue.Enqueue(ctx, ev)
}

// save writes rec; the caller holds s.mu.
func (s *Scheduler) save(k string, rec *record) {
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Put(context.Background(), k, b); err != nil {
		s.log.Error("scheduler: could not save schedule", "key", k, "err", err)
	}
}

// validation returns an Invalid error.
func validation(format string, args ...any) error {
	return fault.Errorf(fault.Invalid, format, args...)
}

// Put creates (create is true) or replaces a schedule.
func (s *Scheduler) Put(ctx context.Context, sc Schedule, create bool) (*Schedule, error) {
	if sc.GroupName == "" {
		sc.GroupName = "default"
	}
	if !validName(sc.Name) {
		return nil, validation("Invalid schedule name %q: it must be 1 to 64 letters, digits, '.', '-' or '_'.", sc.Name)
	}
	if sc.State == "" {
		sc.State = "ENABLED"
	}
	if sc.State != "ENABLED" && sc.State != "DISABLED" {
		return nil, validation("Invalid State %q: it must be ENABLED or DISABLED.", sc.State)
	}
	switch sc.FlexibleTimeWindow.Mode {
	case "OFF", "FLEXIBLE":
	default:
		return nil, validation("FlexibleTimeWindow.Mode must be OFF or FLEXIBLE.")
	}
	if sc.ActionAfterCompletion == "" {
		sc.ActionAfterCompletion = "NONE"
	}
	if a := sc.ActionAfterCompletion; a != "NONE" && a != "DELETE" {
		return nil, validation("ActionAfterCompletion must be NONE or DELETE.")
	}
	if name, _, ok := function.ParseRef(sc.Target.Arn); !ok || name == "" || !strings.HasPrefix(sc.Target.Arn, "arn:aws:lambda:") {
		return nil, validation("Invalid target ARN %q: this server delivers schedules to AWS Lambda function ARNs.", sc.Target.Arn)
	}
	now := s.d.Now()
	k := key(sc.GroupName, sc.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[sc.GroupName]; !ok {
		return nil, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule group %s does not exist.", sc.GroupName)}
	}
	cur := s.recs[k]
	switch {
	case create && cur != nil:
		return nil, &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf("Schedule %s already exists.", sc.Name)}
	case !create && cur == nil:
		return nil, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule %s does not exist.", sc.Name)}
	}
	sc.Arn = "arn:aws:scheduler:" + s.d.Region + ":" + function.AccountID + ":schedule/" + sc.GroupName + "/" + sc.Name
	sc.CreationDate = epoch(now)
	if cur != nil {
		sc.CreationDate = cur.Schedule.CreationDate
	}
	sc.LastModificationDate = epoch(now)
	expr, err := parse(&sc)
	if err != nil {
		return nil, validation("Invalid Schedule Expression %s: %v", sc.ScheduleExpression, err)
	}
	rec := &record{Schedule: sc, expr: expr}
	if cur != nil && cur.Schedule.ScheduleExpression == sc.ScheduleExpression {
		rec.LastFired = cur.LastFired
	} else {
		// A new or changed expression counts from now: no past ticks.
		rec.LastFired = now.UnixMilli()
		if sc.StartDate != nil && seconds(*sc.StartDate).After(now) {
			rec.LastFired = 0
		}
	}
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Put(ctx, k, b); err != nil {
		return nil, fmt.Errorf("scheduler: save %s: %w", sc.Name, err)
	}
	s.recs[k] = rec
	s.poke()
	out := sc
	return &out, nil
}

// Get returns a schedule.
func (s *Scheduler) Get(group, name string) (*Schedule, error) {
	if group == "" {
		group = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.recs[key(group, name)]
	if rec == nil {
		return nil, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule %s does not exist.", name)}
	}
	sc := rec.Schedule
	return &sc, nil
}

// Delete removes a schedule.
func (s *Scheduler) Delete(ctx context.Context, group, name string) error {
	if group == "" {
		group = "default"
	}
	k := key(group, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[k] == nil {
		return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule %s does not exist.", name)}
	}
	if err := s.kv.Delete(ctx, k); err != nil {
		return fmt.Errorf("scheduler: delete %s: %w", name, err)
	}
	delete(s.recs, k)
	return nil
}

// List returns schedules sorted by group and name, filtered by group, name
// prefix and state when those are given.
func (s *Scheduler) List(group, prefix, state string) []Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Schedule
	for _, rec := range s.recs {
		sc := rec.Schedule
		if (group != "" && sc.GroupName != group) || !strings.HasPrefix(sc.Name, prefix) || (state != "" && sc.State != state) {
			continue
		}
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GroupName != out[j].GroupName {
			return out[i].GroupName < out[j].GroupName
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func validName(n string) bool {
	if len(n) < 1 || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
