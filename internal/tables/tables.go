// Package tables is a DynamoDB-compatible table store on the backbone.
//
// Every table's items live in the JetStream stream DDB (one stream, so
// that a transaction across tables is one atomic batch), one subject per
// item: ddb.<table id>.i.<key hash>. A put or update stores the new
// version with the one it replaced beside it; a delete stores a
// tombstone. A conditional write is stored with the item's expected last
// sequence, so the backbone refuses it if anyone, on any node, changed
// the item since the version the condition was checked against; the
// writer then catches up and checks again.
//
// The versions are also the table's change stream. While a table's
// stream (StreamSpecification) is on, and for a day after it is turned
// off, every version stays, with a record id and time: the stream's
// records are the versions stored since it was enabled, each exactly
// once and in order, because each is the write itself. Versions a later
// one replaced are deleted once they are a day old (the compactor). A
// table without a stream keeps one version per item: each rolls up the
// ones before.
//
// Each node keeps an index of every table in memory, ordered by
// partition and sort key, fed in order from the stream (rebuilt from it
// at start), which Query and Scan walk. A writer waits for its own write
// to reach the index before it answers, and a strongly consistent read
// waits for the index to reach the stream's last sequence.
//
// Table definitions are documents in the key-value bucket aloft_tables,
// followed on every node.
package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lazy"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	bucket         = "aloft_tables"
	itemStream     = "DDB"
	iteratorSecret = "=iterator-secret" // "=" is in no table name
)

// Account is the account id in table ARNs.
var Account = "000000000000"

// Error is a refusal of the table store: a Kind and DynamoDB's error
// type (ValidationException, ResourceNotFoundException, ...).
type Error struct {
	Kind    fault.Kind
	Type    string
	Message string
	Item    map[string]any // ConditionalCheckFailedException's item, when asked for
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// FaultKind returns e's kind.
func (e *Error) FaultKind() fault.Kind { return e.Kind }

func validation(format string, args ...any) *Error {
	return &Error{Kind: fault.Invalid, Type: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func notFound(name string) *Error {
	return &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + name + " not found"}
}

// KeyElement is one attribute of a key schema.
type KeyElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"` // HASH or RANGE
}

// AttributeDefinition names a key attribute's type.
type AttributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"` // S, N or B
}

// Throughput is provisioned throughput, kept and reported as given.
type Throughput struct {
	ReadCapacityUnits  int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits int64 `json:"WriteCapacityUnits"`
}

// Def is a table's stored definition.
type Def struct {
	Name                 string                `json:"name"`
	ID                   string                `json:"id"`
	Region               string                `json:"region"`
	KeySchema            []KeyElement          `json:"keySchema"`
	AttributeDefinitions []AttributeDefinition `json:"attributeDefinitions"`
	BillingMode          string                `json:"billingMode"`
	Throughput           *Throughput           `json:"throughput,omitempty"`
	Created              float64               `json:"created"` // Unix seconds
	Tags                 map[string]string     `json:"tags,omitempty"`
	DeletionProtection   bool                  `json:"deletionProtection,omitempty"`
	Stream               *StreamSpec           `json:"stream,omitempty"`
	Indexes              []SecondaryIndex      `json:"indexes,omitempty"`
	TTL                  *TTL                  `json:"ttl,omitempty"`
}

// StreamSpec is a table's stream: its view type, and its label (when it
// was enabled), which names it. Its records are the item versions
// stored after Since (and, once it is disabled, up to Until).
type StreamSpec struct {
	Enabled  bool   `json:"enabled"`
	ViewType string `json:"viewType"` // KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES
	Label    string `json:"label"`
	Since    uint64 `json:"since"`              // the stream sequence before its first record
	Until    uint64 `json:"until,omitempty"`    // a disabled stream's last sequence
	Disabled int64  `json:"disabled,omitempty"` // when it was disabled, Unix ms
}

// last is the sequence of the stream's last possible record.
func (st *StreamSpec) last() uint64 {
	if st.Enabled {
		return math.MaxUint64
	}
	return st.Until
}

// streamRetention is how long a stream keeps a record: a version an
// item no longer has is deleted once it is older.
var streamRetention = 24 * time.Hour

// keepsHistory says whether a write keeps the version it replaces, as a
// record of the table's stream: while the stream is enabled, and for
// the retention after it was disabled, when its records may still be
// read. Otherwise a write replaces every earlier version of the item.
func (d *Def) keepsHistory() bool {
	st := d.Stream
	return st != nil && (st.Enabled || time.Since(time.UnixMilli(st.Disabled)) < streamRetention)
}

// StreamARN returns the ARN of the table's latest stream, or "".
func (d *Def) StreamARN() string {
	if d.Stream == nil {
		return ""
	}
	return d.ARN() + "/stream/" + d.Stream.Label
}

// ARN returns the table's ARN.
func (d *Def) ARN() string {
	return "arn:aws:dynamodb:" + d.Region + ":" + Account + ":table/" + d.Name
}

// HashKey returns the partition key's name; RangeKey the sort key's, or "".
func (d *Def) HashKey() string { return d.key("HASH") }

// RangeKey returns the sort key's name, or "".
func (d *Def) RangeKey() string { return d.key("RANGE") }

func (d *Def) key(kind string) string {
	for _, k := range d.KeySchema {
		if k.KeyType == kind {
			return k.AttributeName
		}
	}
	return ""
}

// attrType returns the declared type of key attribute name.
func (d *Def) attrType(name string) string {
	for _, a := range d.AttributeDefinitions {
		if a.AttributeName == name {
			return a.AttributeType
		}
	}
	return ""
}

func (d *Def) stream() string          { return itemStream }
func (d *Def) subjects() string        { return "ddb." + d.ID + ".>" }
func (d *Def) subject(k string) string { return "ddb." + d.ID + ".i." + k }
func (d *Def) itemSubjects() string    { return "ddb." + d.ID + ".i.*" }

// Service is the table store. Create it with Open.
type Service struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	kv     jetstream.KeyValue
	log    *slog.Logger
	follow *follow.Follower
	revs   follow.Revisions
	secret []byte                       // seals shard iterators
	items  lazy.Value[jetstream.Stream] // the item stream's handle (itemStream)

	node   string        // this node's prefix for local tokens
	writes atomic.Uint64 // counts this node's writes, for local tokens
	local  sync.Map      // local token → *record: versions written here, for the index

	stopSweep context.CancelFunc // stops deleting expired items
	swept     chan struct{}      // closed once the sweeper stopped

	mu     sync.RWMutex
	tables map[string]*table // by name
	closed bool
}

// table is a table this node knows: its definition and its index.
type table struct {
	def *Def
	rev uint64
	idx *index
}

// Open opens the table store on the backbone.
func Open(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("tables: bucket: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: itemStream, Subjects: []string{"ddb.>"}, Storage: jetstream.FileStorage,
		AllowRollup: true, AllowMsgTTL: true, AllowDirect: true, AllowAtomicPublish: true,
	}); err != nil {
		return nil, fmt.Errorf("tables: the items' stream: %w", err)
	}
	s := &Service{js: js, nc: nc, kv: kv, log: log, tables: map[string]*table{}, node: ids.Hex()[:12] + "."}
	if s.secret, err = follow.Secret(ctx, kv, iteratorSecret); err != nil {
		return nil, err
	}
	if s.follow, err = follow.KV(ctx, kv, s.apply, nil); err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	sweepCtx, stop := context.WithCancel(context.Background())
	s.stopSweep, s.swept = stop, make(chan struct{})
	go func() {
		defer close(s.swept)
		s.sweep(sweepCtx)
	}()
	return s, nil
}

// Close stops following the definitions and the tables' streams.
func (s *Service) Close() {
	s.stopSweep()
	<-s.swept
	s.follow.Stop()
	s.mu.Lock()
	s.closed = true
	idxs := make([]*index, 0, len(s.tables))
	for _, t := range s.tables {
		idxs = append(idxs, t.idx)
	}
	s.mu.Unlock()
	for _, ix := range idxs {
		ix.close()
	}
}

func (s *Service) apply(e jetstream.KeyValueEntry) {
	defer s.revs.Applied(e.Revision())
	s.mu.Lock()
	defer s.mu.Unlock()
	name := e.Key()
	if strings.HasPrefix(name, "=") {
		return // the service's own keys
	}
	old := s.tables[name]
	if follow.Deleted(e) {
		delete(s.tables, name)
		if old != nil {
			go old.idx.close()
		}
		return
	}
	var d Def
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		s.log.Error("tables: a damaged table definition is skipped", "table", name, "err", err)
		return
	}
	if old != nil && old.def.ID == d.ID {
		// A table is never changed in place: readers hold it unlocked.
		s.tables[name] = &table{def: &d, rev: e.Revision(), idx: old.idx}
		if old.idx != nil {
			old.idx.redefine(&d)
		}
		return
	}
	if old != nil {
		go old.idx.close()
	}
	t := &table{def: &d, rev: e.Revision()}
	if !s.closed {
		t.idx = newIndex(s, &d)
	}
	s.tables[name] = t
}

// get returns table name.
func (s *Service) get(name string) (*table, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tables[name]
	if t == nil || t.idx == nil {
		return nil, notFound(name)
	}
	return t, nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// badName is DynamoDB's refusal of a table or index name (field
// tableName or indexName) that is not 3 to 255 of [a-zA-Z0-9_.-].
func badName(field, name string) *Error {
	constraint := "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
	switch {
	case len(name) < 3:
		constraint = "Member must have length greater than or equal to 3"
	case len(name) > 255:
		constraint = "Member must have length less than or equal to 255"
	}
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", name, field, constraint)
}

// CreateTable makes a table from def (Name, KeySchema,
// AttributeDefinitions, BillingMode, Throughput, Tags).
func (s *Service) CreateTable(ctx context.Context, def Def) (*Def, error) {
	if !validName.MatchString(def.Name) {
		return nil, badName("tableName", def.Name)
	}
	switch def.BillingMode {
	case "", "PROVISIONED":
		if def.Throughput == nil {
			return nil, validation("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		def.BillingMode = "PROVISIONED"
	case "PAY_PER_REQUEST":
		if def.Throughput != nil {
			return nil, validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", def.BillingMode)
	}
	if err := checkSchema(&def); err != nil {
		return nil, err
	}
	if _, err := s.get(def.Name); err == nil {
		return nil, &Error{Kind: fault.Conflict, Type: "ResourceInUseException", Message: "Table already exists: " + def.Name}
	}
	def.ID = strings.ReplaceAll(ids.New(), "-", "")[:20]
	def.Created = float64(time.Now().UnixMilli()) / 1000
	if def.Stream != nil {
		spec, err := s.newStream(ctx, &def, def.Stream.ViewType)
		if err != nil {
			return nil, err
		}
		def.Stream = spec
	}
	doc, _ := json.Marshal(&def)
	rev, err := s.kv.Create(ctx, def.Name, doc)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, &Error{Kind: fault.Conflict, Type: "ResourceInUseException", Message: "Table already exists: " + def.Name}
		}
		return nil, fmt.Errorf("tables: create %s: %w", def.Name, err)
	}
	s.revs.Wait(rev)
	return &def, nil
}

// checkSchema checks a key schema and its attribute definitions.
func checkSchema(d *Def) *Error {
	if len(d.KeySchema) == 0 || len(d.KeySchema) > 2 {
		return validation("1 validation error detected: Value '%v' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2", d.KeySchema)
	}
	if d.KeySchema[0].KeyType != "HASH" || (len(d.KeySchema) == 2 && d.KeySchema[1].KeyType != "RANGE") {
		return validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(d.KeySchema) == 2 && d.KeySchema[0].AttributeName == d.KeySchema[1].AttributeName {
		return validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
	}
	for _, a := range d.AttributeDefinitions {
		if a.AttributeType != "S" && a.AttributeType != "N" && a.AttributeType != "B" {
			return validation("1 validation error detected: Value '%s' at 'attributeDefinitions.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", a.AttributeType)
		}
	}
	for _, k := range d.KeySchema {
		if d.attrType(k.AttributeName) == "" {
			return validation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", keyNames(d.KeySchema), defNames(d.AttributeDefinitions))
		}
	}
	if len(d.Indexes) == 0 {
		if len(d.AttributeDefinitions) != len(d.KeySchema) {
			return validation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
		}
		return nil
	}
	return checkIndexes(d)
}

func keyNames(ks []KeyElement) string {
	var out []string
	for _, k := range ks {
		out = append(out, k.AttributeName)
	}
	return strings.Join(out, ", ")
}

func defNames(ds []AttributeDefinition) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.AttributeName)
	}
	return strings.Join(out, ", ")
}

// Describe returns table name's definition and its item count and size.
func (s *Service) Describe(name string) (*Def, int, int, error) {
	t, err := s.get(name)
	if err != nil {
		return nil, 0, 0, err
	}
	n, size := t.idx.stats()
	return t.def, n, size, nil
}

// List returns the tables' names, sorted.
func (s *Service) List() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for name := range s.tables {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// DeleteTable deletes table name and its items.
func (s *Service) DeleteTable(ctx context.Context, name string) (*Def, error) {
	t, err := s.get(name)
	if err != nil {
		return nil, err
	}
	if t.def.DeletionProtection {
		return nil, validation("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.")
	}
	if err := s.kv.Delete(ctx, name, jetstream.LastRevision(t.rev)); err != nil {
		return nil, fmt.Errorf("tables: delete %s: %w", name, err)
	}
	st, err := s.js.Stream(ctx, itemStream)
	if err == nil {
		err = st.Purge(ctx, jetstream.WithPurgeSubject(t.def.subjects()))
	}
	if err != nil {
		return nil, fmt.Errorf("tables: delete the items of %s: %w", name, store.Unavailable(err))
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := s.get(name); err != nil {
			break
		}
	}
	return t.def, nil
}

// Tag changes table name's tags (add, then remove keys).
func (s *Service) Tag(ctx context.Context, name string, add map[string]string, remove []string) error {
	_, err := s.change(ctx, name, "tag", func(d *Def) error {
		tags := map[string]string{}
		for k, v := range d.Tags {
			tags[k] = v
		}
		for k, v := range add {
			tags[k] = v
		}
		for _, k := range remove {
			delete(tags, k)
		}
		if len(tags) > 50 {
			return validation("One or more parameter values were invalid: Too many tags: a table has at most 50")
		}
		d.Tags = tags
		return nil
	})
	return err
}

// change changes table name's definition by fn (given a copy to
// change), stored only over the version it was given.
func (s *Service) change(ctx context.Context, name, what string, fn func(d *Def) error) (*Def, error) {
	// One of any number of concurrent changes wins each round, so they
	// all end; the caller's context bounds the wait.
	for ctx.Err() == nil {
		t, err := s.get(name)
		if err != nil {
			return nil, err
		}
		d := *t.def
		d.Indexes = slices.Clone(d.Indexes)
		d.AttributeDefinitions = slices.Clone(d.AttributeDefinitions)
		if err := fn(&d); err != nil {
			return nil, err
		}
		doc, _ := json.Marshal(&d)
		rev, err := s.kv.Update(ctx, name, doc, t.rev)
		if err == nil {
			s.revs.Wait(rev)
			return &d, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("tables: %s %s: %w", what, name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, fmt.Errorf("tables: %s %s: %w", what, name, ctx.Err())
}

// TableName returns the table name of a table ARN (or a name).
func TableName(arnOrName string) string {
	if _, name, ok := strings.Cut(arnOrName, ":table/"); ok {
		return name
	}
	return arnOrName
}
