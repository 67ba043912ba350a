// Command evrec is a test function that records the SNS and SQS events
// it receives: each invocation writes one file to RECORD_DIR holding the
// event as it arrived, after checking that aws-lambda-go decodes it
// (events.SNSEvent or events.SQSEvent, by its records' source). Files
// appear whole (written aside, then renamed).
//
// For SQS events it reports as failed, in the partial batch response,
// every message whose body contains "fail"; for DynamoDB stream events,
// the first record whose new image has an attribute "fail". With FAIL_ALL
// set, the whole invocation fails. With SLEEP_MS set, it takes that long
// first. Files are named by the invocation's start and end (Unix ns), so
// sorted names are in order of start.
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
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	start := time.Now()
	dir := os.Getenv("RECORD_DIR")
	if dir == "" {
		return nil, errors.New("RECORD_DIR is not set")
	}
	var probe struct {
		Records []struct {
			EventSource  string `json:"eventSource"`
			EventSource2 string `json:"EventSource"`
		}
	}
	if err := json.Unmarshal(raw, &probe); err != nil || len(probe.Records) == 0 {
		return nil, fmt.Errorf("not an event with records: %s", raw)
	}
	var out any
	switch src := probe.Records[0].EventSource + probe.Records[0].EventSource2; src {
	case "aws:sns":
		var ev events.SNSEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Records[0].SNS.MessageID == "" {
			return nil, fmt.Errorf("not an SNS event: %v", err)
		}
	case "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Records[0].MessageId == "" {
			return nil, fmt.Errorf("not an SQS event: %v", err)
		}
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, r := range ev.Records {
			if strings.Contains(r.Body, "fail") {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		out = resp
	case "aws:dynamodb":
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Records[0].EventID == "" {
			return nil, fmt.Errorf("not a DynamoDB event: %v", err)
		}
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		for _, r := range ev.Records {
			if _, bad := r.Change.NewImage["fail"]; bad {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
				break
			}
		}
		out = resp
	default:
		return nil, fmt.Errorf("an event from %q", src)
	}
	if ms, err := strconv.Atoi(os.Getenv("SLEEP_MS")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	var r [8]byte
	rand.Read(r[:])
	name := fmt.Sprintf("%d-%d-%s.json", start.UnixNano(), time.Now().UnixNano(), hex.EncodeToString(r[:]))
	tmp := filepath.Join(dir, "."+name+".part")
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	if os.Getenv("FAIL_ALL") != "" {
		return nil, errors.New("failing as asked")
	}
	return out, nil
}

func main() { lambda.Start(handle) }
