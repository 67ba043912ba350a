// Package scheduler keeps EventBridge Scheduler–compatible schedules on the
// backbone and fires each one as an asynchronous invocation of its target
// function, so the queue's retries and destinations apply.
//
// Every node follows the schedules' bucket, so a schedule made, changed
// or deleted through any node is known to all within moments; one node
// fires them, the holder of the cluster's "scheduler" lease (package
// lease). Each schedule records, with revision-guarded writes, the tick
// being fired (a claim, made before the event is sent) and the last tick
// fired (once it is sent): two nodes can never both claim a tick, and a
// node that takes the lease over starts from what is recorded, sending a
// tick another node claimed again once that node must have given up
// sending it, rather than skipping it. The events a schedule sends
// carry an id derived from the schedule and the tick, so a tick sent
// twice (a holder lost between sending and recording it) is stored once
// by the queue. Ticks missed while no node could fire fire once, for the
// latest, not once per tick.
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
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lease"
	"github.com/aloft-dev/aloft/internal/schedule"
)

const bucket = "aloft_schedules"

// LeaseName is the lease whose holder fires the schedules.
const LeaseName = "scheduler"

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
	// Firing is the scheduled time (ms) of a tick claimed and perhaps
	// sent but not yet recorded as fired; 0 when none. Claimer is the
	// scheduler that claimed it, Claimed when (Unix ms).
	Firing  int64  `json:"firing,omitempty"`
	Claimer string `json:"claimer,omitempty"`
	Claimed int64  `json:"claimed,omitempty"`

	expr schedule.Expr
	rev  uint64 // the bucket's revision of this record
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
	// Leases decide which node fires the schedules (LeaseName); nil
	// opens leases of the scheduler's own on the backbone.
	Leases *lease.Leases
}

// Scheduler holds and fires schedules. Its methods are safe for concurrent
// use.
type Scheduler struct {
	d      Deps
	kv     jetstream.KeyValue
	log    *slog.Logger
	follow *follow.Follower
	revs   follow.Revisions // what the copy below has applied
	own    bool             // d.Leases was opened here, and is closed by Close
	id     string           // names this scheduler in its claims

	mu     sync.Mutex
	recs   map[string]*record // guarded by mu; by key(): the bucket's schedules, as followed
	groups map[string]float64 // guarded by mu; group name → creation time

	wake    chan struct{}
	stop    context.CancelFunc // ends the firing
	stopCtx context.Context
	done    chan struct{} // closed when the firing has ended, once started
	started bool          // guarded by mu
	once    sync.Once
}

func key(group, name string) string { return "s/" + group + "/" + name }

// Open loads every schedule and follows the bucket from then on. Call
// Start to fire them.
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
		wake: make(chan struct{}, 1), done: make(chan struct{}), id: ids.New()}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	if s.d.Leases == nil {
		if s.d.Leases, err = lease.Open(ctx, js, lease.Options{Logger: d.Logger}); err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
		s.own = true
	}
	if s.follow, err = follow.KV(ctx, kv, s.apply, nil); err != nil {
		if s.own {
			s.d.Leases.Close()
		}
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return s, nil
}

// apply keeps the copy of the bucket: a schedule or group made, changed
// or deleted through any node.
func (s *Scheduler) apply(e jetstream.KeyValueEntry) {
	defer s.revs.Applied(e.Revision())
	k := e.Key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := strings.CutPrefix(k, "g/"); ok {
		if follow.Deleted(e) {
			delete(s.groups, g)
			return
		}
		var created float64
		json.Unmarshal(e.Value(), &created)
		s.groups[g] = created
		return
	}
	if follow.Deleted(e) {
		delete(s.recs, k)
		return
	}
	rec, err := decode(e)
	if err != nil {
		s.log.Error("scheduler: a schedule is skipped", "key", k, "err", err)
		delete(s.recs, k)
		return
	}
	s.recs[k] = rec
	s.poke()
}

// decode reads a stored schedule and compiles its expression.
func decode(e jetstream.KeyValueEntry) (*record, error) {
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	var err error
	if rec.expr, err = parse(&rec.Schedule); err != nil {
		return nil, fmt.Errorf("no longer parses: %w", err)
	}
	rec.rev = e.Revision()
	return &rec, nil
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

// Start fires schedules, while this node holds the scheduler's lease,
// until Close.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	go func() {
		defer close(s.done)
		s.d.Leases.Run(s.stopCtx, LeaseName, s.run)
	}()
}

// Close stops firing, giving the lease up, waits for the loop to end and
// stops following the bucket.
func (s *Scheduler) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.stop()
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if started {
			select {
			case <-s.done:
			case <-ctx.Done():
				err = fmt.Errorf("scheduler: close: %w", ctx.Err())
			}
		}
		s.follow.Stop()
		if s.own {
			s.d.Leases.Close()
		}
	})
	return err
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run fires due schedules and sleeps until the next one is due, until
// ctx ends: the scheduler's lease is lost or the scheduler closes.
func (s *Scheduler) run(ctx context.Context) {
	for ctx.Err() == nil {
		next := s.fireDue(ctx, s.d.Now())
		wait := time.Minute
		if !next.IsZero() {
			wait = min(max(next.Sub(s.d.Now()), 0), time.Minute)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// fireDue fires every schedule with a tick at or before now (once, for the
// latest such tick) and returns the earliest tick still to come.
func (s *Scheduler) fireDue(ctx context.Context, now time.Time) time.Time {
	s.mu.Lock()
	keys := make([]string, 0, len(s.recs))
	for k := range s.recs {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	var earliest time.Time
	for _, k := range keys {
		if ctx.Err() != nil {
			break
		}
		next := s.fireOne(ctx, k, now)
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
	}
	return earliest
}

// due returns the tick of rec to fire at now (the latest at or before
// now, so a long outage fires once), or, when none is due, the next tick
// (zero when there is none).
func due(rec *record, now time.Time) (tick, next time.Time) {
	sc := &rec.Schedule
	if sc.State != "ENABLED" {
		return time.Time{}, time.Time{}
	}
	from := seconds(sc.CreationDate)
	if rec.LastFired != 0 {
		from = time.UnixMilli(rec.LastFired)
	} else if sc.StartDate != nil {
		from = seconds(*sc.StartDate).Add(-time.Millisecond)
	}
	tick = rec.expr.Next(from)
	if tick.IsZero() || tick.After(now) {
		return time.Time{}, bounded(sc, tick)
	}
	for i := 0; i < 1_000_000; i++ {
		n := rec.expr.Next(tick)
		if n.IsZero() || n.After(now) {
			break
		}
		tick = n
	}
	if sc.EndDate != nil && tick.After(seconds(*sc.EndDate)) {
		return time.Time{}, time.Time{}
	}
	return tick, time.Time{}
}

// retry is how soon a tick that could not be fired is tried again.
const retry = 5 * time.Second

// sendTimeout bounds the sending of one tick's event; claimGrace is how
// long a tick claimed by another scheduler is left to it before this one
// sends it again: longer than any send can take, so that a claimer that
// lost the lease mid-send has given up first.
const (
	sendTimeout = 10 * time.Second
	claimGrace  = sendTimeout + 5*time.Second
)

// fireOne fires schedule k if it is due and returns its next tick. Due by
// this node's copy, the tick is settled on the backbone's record: claimed
// there (Firing) with a revision-guarded write, sent, then recorded as
// fired (LastFired); a tick claimed earlier, by this node or another that
// held the lease, is sent again with the same event id.
func (s *Scheduler) fireOne(ctx context.Context, k string, now time.Time) time.Time {
	s.mu.Lock()
	view := s.recs[k]
	s.mu.Unlock()
	if view == nil {
		return time.Time{}
	}
	tick, next := due(view, now)
	if tick.IsZero() && view.Firing == 0 {
		return next
	}
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return time.Time{}
	}
	if err != nil {
		s.log.Warn("scheduler: could not read a due schedule; will try again", "key", k, "err", err)
		return now.Add(retry)
	}
	rec, err := decode(e)
	if err != nil {
		return time.Time{}
	}
	if rec.Firing != 0 {
		if wait := claimGrace - time.Since(time.UnixMilli(rec.Claimed)); rec.Claimer != s.id && wait > 0 {
			return now.Add(min(wait, retry))
		}
		tick = time.UnixMilli(rec.Firing)
	} else {
		if tick, next = due(rec, now); tick.IsZero() {
			return next
		}
		rec.Firing, rec.Claimer, rec.Claimed = tick.UnixMilli(), s.id, time.Now().UnixMilli()
		b, _ := json.Marshal(rec)
		if rec.rev, err = s.kv.Update(ctx, k, b, e.Revision()); err != nil {
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && ctx.Err() == nil {
				s.log.Warn("scheduler: could not claim a tick; will try again", "schedule", rec.Schedule.Arn, "err", err)
			}
			return now.Add(retry) // or changed meanwhile: the copy shows the change first
		}
	}
	sc := &rec.Schedule
	if err := s.fire(ctx, sc, tick); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler: fire failed; will try again", "schedule", sc.Arn, "err", err)
		}
		return now.Add(retry)
	}
	s.log.Info("schedule fired", "schedule", sc.Arn, "scheduled_time", tick.UTC().Format(time.RFC3339))
	rev, err := s.fired(ctx, k, tick)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler: could not record a fired tick; it is sent again", "schedule", sc.Arn, "err", err)
		}
		return now.Add(retry)
	}
	next = rec.expr.Next(tick)
	if next.IsZero() && sc.ActionAfterCompletion == "DELETE" && rev != 0 {
		if err := s.remove(ctx, k, rev); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			s.log.Warn("scheduler: could not delete a completed schedule", "schedule", sc.Arn, "err", err)
		}
		return time.Time{}
	}
	return bounded(sc, next)
}

// fired records tick as schedule k's last fired, ending its claim, and
// returns the record's new revision (0 when the schedule is gone or its
// claim was settled by another node). A change made to the schedule
// meanwhile is kept.
func (s *Scheduler) fired(ctx context.Context, k string, tick time.Time) (uint64, error) {
	for range 10 {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		var rec record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return 0, fmt.Errorf("scheduler: %s is unreadable: %w", k, err)
		}
		if rec.Firing != tick.UnixMilli() {
			return 0, nil
		}
		rec.Firing, rec.Claimer, rec.Claimed, rec.LastFired = 0, "", 0, max(rec.LastFired, tick.UnixMilli())
		b, _ := json.Marshal(&rec)
		rev, err := s.kv.Update(ctx, k, b, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return 0, err
		}
		s.revs.Wait(rev)
		return rev, nil
	}
	return 0, errors.New("scheduler: the schedule keeps changing")
}

// bounded drops a tick past the schedule's end date.
func bounded(sc *Schedule, tick time.Time) time.Time {
	if sc.EndDate != nil && tick.After(seconds(*sc.EndDate)) {
		return time.Time{}
	}
	return tick
}

// fire sends the schedule's event for the tick at scheduled.
func (s *Scheduler) fire(ctx context.Context, sc *Schedule, scheduled time.Time) error {
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
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return s.d.Queue.Enqueue(ctx, ev)
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
	_, groupOK := s.groups[sc.GroupName]
	s.mu.Unlock()
	if !groupOK {
		return nil, &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule group %s does not exist.", sc.GroupName)}
	}
	sc.Arn = "arn:aws:scheduler:" + s.d.Region + ":" + function.AccountID + ":schedule/" + sc.GroupName + "/" + sc.Name
	sc.LastModificationDate = epoch(now)
	exists := &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf("Schedule %s already exists.", sc.Name)}
	missing := &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule %s does not exist.", sc.Name)}
	var rev uint64
	if create {
		sc.CreationDate = epoch(now)
		rec, err := s.compile(sc, nil, now)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(rec)
		if rev, err = s.kv.Create(ctx, k, b); errors.Is(err, jetstream.ErrKeyExists) {
			return nil, exists
		} else if err != nil {
			return nil, fmt.Errorf("scheduler: save %s: %w", sc.Name, err)
		}
	} else {
		for attempt := 0; ; attempt++ {
			e, err := s.kv.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
				return nil, missing
			}
			if err != nil {
				return nil, fmt.Errorf("scheduler: read %s: %w", sc.Name, err)
			}
			var prev record
			if err := json.Unmarshal(e.Value(), &prev); err != nil {
				return nil, fmt.Errorf("scheduler: %s is unreadable: %w", sc.Name, err)
			}
			sc.CreationDate = prev.Schedule.CreationDate
			rec, err := s.compile(sc, &prev, now)
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(rec)
			rev, err = s.kv.Update(ctx, k, b, e.Revision())
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt == 10 {
				return nil, fmt.Errorf("scheduler: save %s: %w", sc.Name, err)
			}
		}
	}
	s.revs.Wait(rev)
	s.poke()
	out := sc
	return &out, nil
}

// compile makes the record of sc, replacing prev (nil when new): a new
// or changed expression counts from now, so no past tick fires; an
// unchanged one keeps its firing state.
func (s *Scheduler) compile(sc Schedule, prev *record, now time.Time) (*record, error) {
	expr, err := parse(&sc)
	if err != nil {
		return nil, validation("Invalid Schedule Expression %s: %v", sc.ScheduleExpression, err)
	}
	rec := &record{Schedule: sc, expr: expr}
	if prev != nil { // a tick claimed, perhaps sent, is settled all the same
		rec.Firing, rec.Claimer, rec.Claimed = prev.Firing, prev.Claimer, prev.Claimed
	}
	if prev != nil && prev.Schedule.ScheduleExpression == sc.ScheduleExpression {
		rec.LastFired = prev.LastFired
	} else {
		rec.LastFired = now.UnixMilli()
		if sc.StartDate != nil && seconds(*sc.StartDate).After(now) {
			rec.LastFired = 0
		}
	}
	return rec, nil
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
	_, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Schedule %s does not exist.", name)}
	}
	if err != nil {
		return fmt.Errorf("scheduler: read %s: %w", name, err)
	}
	if err := s.remove(ctx, k, 0); err != nil {
		return fmt.Errorf("scheduler: delete %s: %w", name, err)
	}
	return nil
}

// remove deletes key k (only at revision rev, unless 0) and waits until
// the copy no longer has it.
func (s *Scheduler) remove(ctx context.Context, k string, rev uint64) error {
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if err := s.kv.Delete(ctx, k, opts...); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		s.mu.Lock()
		_, sched := s.recs[k]
		g, isGroup := strings.CutPrefix(k, "g/")
		_, grp := s.groups[g]
		s.mu.Unlock()
		if (isGroup && !grp) || (!isGroup && !sched) {
			break
		}
	}
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
