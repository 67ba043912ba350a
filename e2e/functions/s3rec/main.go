// Command s3rec is a test function that records the S3 notifications it
// receives: each invocation writes one file to RECORD_DIR holding the time
// the handler started (Unix nanoseconds) and the event as it arrived, after
// checking that aws-lambda-go's events.S3Event decodes it. The file appears whole (written aside, then renamed), so a
// reader never sees half an event, even if the process is killed.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Record is what one file holds.
type Record struct {
	Start     int64           `json:"start"` // when the handler started, Unix ns
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`
}

func handle(ctx context.Context, raw json.RawMessage) error {
	start := time.Now().UnixNano()
	dir := os.Getenv("RECORD_DIR")
	if dir == "" {
		return errors.New("RECORD_DIR is not set")
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("not an S3 event: %w", err)
	}
	if len(ev.Records) == 0 {
		return errors.New("an S3 event without records")
	}
	rec := Record{Start: start, Event: raw}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		rec.RequestID = lc.AwsRequestID
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var r [8]byte
	rand.Read(r[:])
	name := fmt.Sprintf("%d-%s.json", start, hex.EncodeToString(r[:]))
	// Written aside and renamed, so that a reader of *.json never sees a
	// record half written (or left half written by an instance killed
	// mid-write).
	tmp := filepath.Join(dir, "."+name+".part")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

func main() { lambda.Start(handle) }
