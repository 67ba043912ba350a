package traces

import (
	"encoding/json"

	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// MaxDocument is the largest segment document PutTraceSegments takes.
const MaxDocument = 64 << 10

// Unprocessed is a segment document Put refused, and why.
type Unprocessed struct {
	ID, ErrorCode, Message string
}

// Put adds segment documents a client sent (PutTraceSegments), each
// checked for the fields X-Ray requires: name, id (16 hex digits),
// trace_id (a root), start_time, and end_time or in_progress; a
// subsegment sent on its own (type "subsegment") also its parent_id. The
// refused ones are returned.
func (s *Store) Put(docs []string) []Unprocessed {
	var bad []Unprocessed
	ok := make([]Doc, 0, len(docs))
	for _, d := range docs {
		var f fields
		var id struct {
			ID any `json:"id"`
		}
		json.Unmarshal([]byte(d), &id)
		idText, _ := id.ID.(string)
		switch {
		case len(d) > MaxDocument:
			bad = append(bad, Unprocessed{idText, "InvalidParameterException", "The segment document is larger than 64 KB."})
			continue
		case json.Unmarshal([]byte(d), &f) != nil:
			bad = append(bad, Unprocessed{idText, "InvalidParameterException", "The segment document is not a JSON object of a segment."})
			continue
		}
		msg := ""
		switch {
		case f.Name == "" || len(f.Name) > 200:
			msg = "The segment has no name, or one longer than 200 characters."
		case !traceid.ValidID(f.ID):
			msg = "The segment id must be 16 hexadecimal digits."
		case !traceid.ValidRoot(f.TraceID):
			msg = "The trace_id must be of the form 1-<8 hex digits>-<24 hex digits>."
		case f.StartTime <= 0:
			msg = "The segment has no start_time."
		case f.EndTime <= 0 && !f.InProgress:
			msg = "The segment has neither an end_time nor in_progress."
		case f.EndTime > 0 && f.EndTime < f.StartTime:
			msg = "The segment ends before it starts."
		case f.Type != "" && f.Type != subsegmentTyp:
			msg = "The type of a segment document may only be \"subsegment\"."
		case f.Type == subsegmentTyp && !traceid.ValidID(f.ParentID):
			msg = "A subsegment sent on its own needs the parent_id of its segment."
		}
		if msg != "" {
			bad = append(bad, Unprocessed{idText, "InvalidParameterException", msg})
			continue
		}
		ok = append(ok, Doc{Trace: f.TraceID, ID: f.ID, Body: json.RawMessage(d)})
	}
	for _, d := range ok[s.add(ok):] {
		bad = append(bad, Unprocessed{d.ID, "ThrottledException", "Too many segments wait to be written; send again later."})
	}
	return bad
}
