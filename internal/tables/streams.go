package tables

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/store"
)

// ViewTypes are the stream view types.
var ViewTypes = []string{"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"}

// SetStream enables (with view type) or disables table name's stream.
func (s *Service) SetStream(ctx context.Context, name string, enabled bool, viewType string) (*Def, error) {
	return s.Update(ctx, name, Update{Stream: &StreamChange{Enabled: enabled, ViewType: viewType}})
}

// setStream enables or disables d's stream.
func (s *Service) setStream(ctx context.Context, d *Def, c *StreamChange) error {
	switch {
	case c.Enabled && d.Stream != nil && d.Stream.Enabled:
		return validation("Table already has an enabled stream: %s", d.StreamARN())
	case !c.Enabled && (d.Stream == nil || !d.Stream.Enabled):
		return validation("Table already has no enabled stream")
	case c.Enabled:
		spec, err := s.newStream(ctx, d, c.ViewType)
		if err != nil {
			return err
		}
		d.Stream = spec
	default:
		off := *d.Stream
		off.Enabled, off.Disabled = false, time.Now().UnixMilli()
		info, err := s.itemInfo(ctx)
		if err != nil {
			return err
		}
		off.Until = info.State.LastSeq
		d.Stream = &off
	}
	return nil
}

// newStream is a new stream of table d: labelled by now, its records
// those after the stream's current last sequence.
func (s *Service) newStream(ctx context.Context, d *Def, viewType string) (*StreamSpec, error) {
	found := false
	for _, v := range ViewTypes {
		found = found || v == viewType
	}
	if !found {
		return nil, validation("1 validation error detected: Value '%s' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]", viewType)
	}
	info, err := s.itemInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &StreamSpec{Enabled: true, ViewType: viewType, Label: time.Now().UTC().Format("2006-01-02T15:04:05.000"), Since: info.State.LastSeq}, nil
}

// Stream is a table's stream, as the streams API describes it.
type Stream struct {
	ARN, Label, ViewType, Table string
	Enabled                     bool
	KeySchema                   []KeyElement
	First                       uint64 // the first record's sequence, 0 for none
}

// Streams returns the streams of table name ("" for every table).
func (s *Service) Streams(name string) []Stream {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Stream
	for n, t := range s.tables {
		if (name == "" || n == name) && t.def.Stream != nil {
			out = append(out, Stream{ARN: t.def.StreamARN(), Label: t.def.Stream.Label, ViewType: t.def.Stream.ViewType, Table: n,
				Enabled: t.def.Stream.Enabled, KeySchema: t.def.KeySchema})
		}
	}
	return out
}

// streamOf returns the table and stream a stream ARN names.
func (s *Service) streamOf(arn string) (*table, error) {
	name, label, ok := strings.Cut(TableName(arn), "/stream/")
	if !ok {
		return nil, &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Stream: " + arn + " not found"}
	}
	t, err := s.get(name)
	if err != nil || t.def.Stream == nil || t.def.Stream.Label != label {
		return nil, &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Stream: " + arn + " not found"}
	}
	return t, nil
}

// DescribeStream returns the stream arn names.
func (s *Service) DescribeStream(ctx context.Context, arn string) (*Stream, error) {
	t, err := s.streamOf(arn)
	if err != nil {
		return nil, err
	}
	d := t.def
	first, err := s.firstRecord(ctx, d)
	if err != nil {
		return nil, err
	}
	return &Stream{ARN: arn, Label: d.Stream.Label, ViewType: d.Stream.ViewType, Table: d.Name, Enabled: d.Stream.Enabled, KeySchema: d.KeySchema,
		First: first}, nil
}

// firstRecord returns the sequence of the first record of d's stream, 0
// when it has none.
func (s *Service) firstRecord(ctx context.Context, d *Def) (uint64, error) {
	st, err := s.itemStream(ctx)
	if err != nil {
		return 0, fmt.Errorf("tables: the stream of %s: %w", d.Name, store.Unavailable(err))
	}
	for next := d.Stream.Since + 1; ; {
		m, err := st.GetMsg(ctx, next, jetstream.WithGetMsgSubject(d.itemSubjects()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("tables: the stream of %s: %w", d.Name, store.Unavailable(err))
		}
		if m.Sequence > d.Stream.last() {
			return 0, nil
		}
		if _, ok := recordOf(d, m); ok {
			return m.Sequence, nil
		}
		next = m.Sequence + 1
	}
}

// itemInfo describes the stream of every table's items, as its leader
// has it now; a description the cluster did not give (an election under
// way) is of kind fault.Unavailable.
func (s *Service) itemInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	st, err := s.js.Stream(ctx, itemStream)
	if err != nil {
		return nil, fmt.Errorf("tables: the item stream: %w", store.Unavailable(err))
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("tables: the item stream: %w", store.Unavailable(err))
	}
	return info, nil
}

// recordOf reads a stored version as a record of d's stream; ok is
// false for a version that is not one (stored while the table kept no
// history, or older than the retention).
func recordOf(d *Def, m *jetstream.RawStreamMsg) (Record, bool) {
	var v record
	if json.Unmarshal(m.Data, &v) != nil || v.ID == "" || time.Since(time.UnixMilli(v.Time)) > streamRetention {
		return Record{}, false
	}
	r := Record{Seq: m.Sequence, ID: v.ID, Time: v.Time, Keys: v.Key, Size: v.Key.Size() + v.New.Size() + v.Old.Size(),
		ViewType: d.Stream.ViewType, Region: d.Region, Service: v.Service}
	switch {
	case v.Old == nil:
		r.Name = "INSERT"
	case v.New == nil:
		r.Name = "REMOVE"
	default:
		r.Name = "MODIFY"
	}
	switch d.Stream.ViewType {
	case "NEW_IMAGE":
		r.New = v.New
	case "OLD_IMAGE":
		r.Old = v.Old
	case "NEW_AND_OLD_IMAGES":
		r.New, r.Old = v.New, v.Old
	}
	return r, true
}

// ShardID is the one shard of a table's stream.
func ShardID(d *Stream) string {
	return "shardId-00000001-" + strings.ReplaceAll(strings.ReplaceAll(d.Label, ":", ""), "-", "")
}

// iterator is a shard iterator's content: the stream, the next sequence
// to read, and when it expires.
type iterator struct {
	ARN     string `json:"a"`
	Next    uint64 `json:"n"`
	Expires int64  `json:"e"`
}

// Iterator returns a shard iterator of stream arn: TRIM_HORIZON (the
// oldest record), LATEST (after the newest), AT_SEQUENCE_NUMBER or
// AFTER_SEQUENCE_NUMBER seq.
func (s *Service) Iterator(ctx context.Context, arn, shard, kind string, seq uint64) (string, error) {
	t, err := s.streamOf(arn)
	if err != nil {
		return "", err
	}
	d := &Stream{Label: t.def.Stream.Label}
	if shard != ShardID(d) {
		return "", &Error{Kind: fault.NotFound, Type: "ResourceNotFoundException", Message: "Requested resource not found: Shard does not exist"}
	}
	var next uint64
	switch kind {
	case "TRIM_HORIZON":
		next = t.def.Stream.Since + 1
	case "LATEST":
		info, err := s.itemInfo(ctx)
		if err != nil {
			return "", err
		}
		next = info.State.LastSeq + 1
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if seq <= t.def.Stream.Since {
			return "", validation("Invalid SequenceNumber for the stream")
		}
		next = seq
		if kind == "AFTER_SEQUENCE_NUMBER" {
			next++
		}
	default:
		return "", validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]", kind)
	}
	return s.seal(iterator{ARN: arn, Next: next, Expires: time.Now().Add(15 * time.Minute).Unix()}), nil
}

func (s *Service) seal(it iterator) string {
	body, _ := json.Marshal(it)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

func (s *Service) open(token string) (iterator, error) {
	var it iterator
	bad := validation("Invalid ShardIterator")
	body64, tag64, ok := strings.Cut(token, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(body64)
	tag, err2 := base64.RawURLEncoding.DecodeString(tag64)
	if !ok || err1 != nil || err2 != nil {
		return it, bad
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:16], tag) || json.Unmarshal(body, &it) != nil {
		return it, bad
	}
	if time.Now().Unix() > it.Expires {
		return it, &Error{Kind: fault.Invalid, Type: "ExpiredIteratorException", Message: "Iterator expired. The iterator was created at time " +
			time.Unix(it.Expires-15*60, 0).UTC().Format(time.RFC1123) + " while right now it is " + time.Now().UTC().Format(time.RFC1123) +
			" which is further in the future than the tolerated delay of 900000 milliseconds."}
	}
	return it, nil
}

// Record is a change record as the streams API gives it.
type Record struct {
	Seq      uint64
	ID, Name string
	Time     int64 // Unix ms
	Keys     item.Item
	New, Old item.Item
	Size     int
	ViewType string
	Region   string
	Service  bool // a deletion by the time to live
}

// Records reads up to limit records from a shard iterator, returning
// them and the next iterator ("" once the stream is disabled and read
// to its end).
func (s *Service) Records(ctx context.Context, token string, limit int) ([]Record, string, error) {
	it, err := s.open(token)
	if err != nil {
		return nil, "", err
	}
	t, err := s.streamOf(it.ARN)
	if err != nil {
		return nil, "", err
	}
	d := t.def
	st, err := s.itemStream(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("tables: the stream of %s: %w", d.Name, store.Unavailable(err))
	}
	var out []Record
	next := max(it.Next, d.Stream.Since+1)
	last := d.Stream.last()
	for len(out) < limit && next <= last {
		m, err := st.GetMsg(ctx, next, jetstream.WithGetMsgSubject(d.itemSubjects()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("tables: the stream of %s: %w", d.Name, store.Unavailable(err))
		}
		if m.Sequence > last {
			next = last + 1
			break
		}
		next = m.Sequence + 1
		if r, ok := recordOf(d, m); ok {
			out = append(out, r)
		}
	}
	it.Next = next
	it.Expires = time.Now().Add(15 * time.Minute).Unix()
	if !d.Stream.Enabled && len(out) == 0 {
		return out, "", nil // closed, and read to the end
	}
	return out, s.seal(it), nil
}

// SequenceNumber writes a record's sequence as DynamoDB does: 21 digits.
func SequenceNumber(n uint64) string {
	s := strconv.FormatUint(n, 10)
	return strings.Repeat("0", max(21-len(s), 0)) + s
}

// Event is r as GetRecords writes it and as Lambda's DynamoDB events
// carry it (with the stream's ARN, for events; "" leaves it out).
func (r Record) Event(streamARN string) map[string]any {
	d := map[string]any{"ApproximateCreationDateTime": float64(r.Time / 1000), "Keys": r.Keys, "SequenceNumber": SequenceNumber(r.Seq),
		"SizeBytes": r.Size, "StreamViewType": r.ViewType}
	if r.New != nil {
		d["NewImage"] = r.New
	}
	if r.Old != nil {
		d["OldImage"] = r.Old
	}
	out := map[string]any{"eventID": r.ID, "eventName": r.Name, "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": r.Region, "dynamodb": d}
	if streamARN != "" {
		out["eventSourceARN"] = streamARN
	}
	if r.Service {
		// The streams API capitalizes the identity's members; Lambda's
		// events do not.
		if streamARN == "" {
			out["userIdentity"] = map[string]any{"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
		} else {
			out["userIdentity"] = map[string]any{"type": "Service", "principalId": "dynamodb.amazonaws.com"}
		}
	}
	return out
}

// RecordsFrom reads up to limit records of stream arn from sequence
// from on, returning them and the sequence to read next.
func (s *Service) RecordsFrom(ctx context.Context, arn string, from uint64, limit int) ([]Record, uint64, error) {
	token := s.seal(iterator{ARN: arn, Next: from, Expires: time.Now().Add(time.Minute).Unix()})
	recs, _, err := s.Records(ctx, token, limit)
	if err != nil {
		return nil, from, err
	}
	if len(recs) > 0 {
		from = recs[len(recs)-1].Seq + 1
	}
	return recs, from, nil
}

// NextChange returns a channel closed when this node next sees a change
// to the table whose stream arn is: what a reader that has read
// everything waits on. It is nil when there is no such stream.
func (s *Service) NextChange(arn string) <-chan struct{} {
	t, err := s.streamOf(arn)
	if err != nil {
		return nil
	}
	t.idx.mu.RLock()
	defer t.idx.mu.RUnlock()
	return t.idx.changed
}

// StreamStart returns the first sequence a reader starting at
// TRIM_HORIZON or LATEST reads from.
func (s *Service) StreamStart(ctx context.Context, arn, position string) (uint64, error) {
	t, err := s.streamOf(arn)
	if err != nil {
		return 0, err
	}
	if position == "TRIM_HORIZON" {
		return t.def.Stream.Since + 1, nil
	}
	info, err := s.itemInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq + 1, nil
}
