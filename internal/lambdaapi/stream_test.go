package lambdaapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// The answer of InvokeWithResponseStream decodes, with the SDKs'
// event-stream decoder, into PayloadChunk events carrying the pieces as
// written and a final InvokeComplete.
func TestEventWriterFraming(t *testing.T) {
	rec := httptest.NewRecorder()
	e := &eventWriter{w: rec, rc: http.NewResponseController(rec), version: "$LATEST", deadline: time.Now().Add(time.Minute)}
	e.Start("text/plain")
	e.Write([]byte("one"))
	e.Write([]byte("two"))
	e.complete(completeEvent{ErrorCode: "Error", ErrorDetails: "half way", LogResult: "bG9n"})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/vnd.amazon.eventstream" ||
		rec.Header().Get("X-Amz-Executed-Version") != "$LATEST" || !rec.Flushed {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(rec.Body.Bytes())
	var got []string
	for {
		m, err := dec.Decode(r, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		typ, mt, ct := m.Headers.Get(":event-type"), m.Headers.Get(":message-type"), m.Headers.Get(":content-type")
		if typ == nil || mt == nil || mt.String() != "event" || ct == nil {
			t.Fatalf("headers %v", m.Headers)
		}
		got = append(got, typ.String()+":"+ct.String()+":"+string(m.Payload))
	}
	if len(got) != 3 || got[0] != "PayloadChunk:application/octet-stream:one" || got[1] != "PayloadChunk:application/octet-stream:two" {
		t.Fatalf("events %q", got)
	}
	var done completeEvent
	if err := json.Unmarshal([]byte(got[2][len("InvokeComplete:application/json:"):]), &done); err != nil ||
		done != (completeEvent{ErrorCode: "Error", ErrorDetails: "half way", LogResult: "bG9n"}) {
		t.Fatalf("InvokeComplete %q: %v", got[2], err)
	}
}
