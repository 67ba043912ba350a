package queues

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/policy"
)

// The queue attributes a caller may set, with their defaults and ranges,
// as SQS's.
const (
	AttrDelay          = "DelaySeconds"
	AttrMaxSize        = "MaximumMessageSize"
	AttrRetention      = "MessageRetentionPeriod"
	AttrPolicy         = "Policy"
	AttrWait           = "ReceiveMessageWaitTimeSeconds"
	AttrVisibility     = "VisibilityTimeout"
	AttrRedrive        = "RedrivePolicy"
	AttrRedriveAllow   = "RedriveAllowPolicy"
	AttrFifo           = "FifoQueue"
	AttrContentDedup   = "ContentBasedDeduplication"
	AttrKmsKey         = "KmsMasterKeyId"
	AttrKmsReuse       = "KmsDataKeyReusePeriodSeconds"
	AttrManagedSSE     = "SqsManagedSseEnabled"
	AttrDedupScope     = "DeduplicationScope"
	AttrThroughput     = "FifoThroughputLimit"
	AttrArn            = "QueueArn"
	AttrCreated        = "CreatedTimestamp"
	AttrModified       = "LastModifiedTimestamp"
	AttrVisible        = "ApproximateNumberOfMessages"
	AttrNotVisible     = "ApproximateNumberOfMessagesNotVisible"
	AttrDelayed        = "ApproximateNumberOfMessagesDelayed"
	defaultVisibility  = 30
	defaultRetention   = 345600
	defaultMaxSize     = 1 << 20
	defaultMaxReceives = 10
)

// intRange is the range of an integer attribute.
type intRange struct{ min, max, def int }

var intAttrs = map[string]intRange{
	AttrDelay:      {0, 900, 0},
	AttrMaxSize:    {1024, 1 << 20, defaultMaxSize},
	AttrRetention:  {60, 1209600, defaultRetention},
	AttrWait:       {0, 20, 0},
	AttrVisibility: {0, 43200, defaultVisibility},
}

// readOnly are the attributes GetQueueAttributes reports but no caller
// sets.
var readOnly = []string{AttrArn, AttrCreated, AttrModified, AttrVisible, AttrNotVisible, AttrDelayed}

// settable lists, in the order GetQueueAttributes reports them, the
// attributes a standard queue keeps.
var settable = []string{AttrDelay, AttrMaxSize, AttrRetention, AttrPolicy, AttrWait, AttrVisibility, AttrRedrive, AttrRedriveAllow, AttrManagedSSE}

// fifoSettable lists the attributes only FIFO queues have.
var fifoSettable = []string{AttrFifo, AttrContentDedup, AttrDedupScope, AttrThroughput}

// defaults returns a new standard queue's attributes.
func defaults() map[string]string {
	out := map[string]string{AttrManagedSSE: "false"}
	for name, r := range intAttrs {
		out[name] = strconv.Itoa(r.def)
	}
	return out
}

// RedrivePolicy is a queue's RedrivePolicy attribute: where messages go
// after too many receives.
type RedrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

// parseRedrive reads a RedrivePolicy, which SQS accepts with the count as
// a number or a string.
func parseRedrive(s string) (*RedrivePolicy, *Error) {
	var raw struct {
		Arn   string          `json:"deadLetterTargetArn"`
		Count json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.")
	}
	if raw.Arn == "" {
		return nil, invalid(InvalidAttributeValue, "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.", s)
	}
	count := strings.Trim(string(raw.Count), `"`)
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > 1000 {
		return nil, invalid(InvalidAttributeValue, "Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %s, valid values are from 1 to 1000 both inclusive.", s, count)
	}
	return &RedrivePolicy{DeadLetterTargetArn: raw.Arn, MaxReceiveCount: n}, nil
}

// checkAttributes validates attributes a caller sets on a queue, with
// create saying whether the queue is being created and fifo whether it
// is a FIFO queue.
func checkAttributes(attrs map[string]string, create, fifo bool) *Error {
	for name, v := range attrs {
		if r, ok := intAttrs[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r.min || n > r.max {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter %s.", name)
			}
			continue
		}
		switch name {
		case AttrPolicy:
			if v == "" {
				continue
			}
			if _, err := policy.ParseResource([]byte(v)); err != nil {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter Policy: %v", err)
			}
		case AttrRedrive:
			if v == "" {
				continue
			}
			if _, err := parseRedrive(v); err != nil {
				return err
			}
		case AttrRedriveAllow:
			if v == "" {
				continue
			}
			if _, err := parseRedriveAllow(v); err != nil {
				return err
			}
		case AttrManagedSSE:
			if v == "true" {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter SqsManagedSseEnabled: queues here are not encrypted at rest, so only false is accepted.")
			}
			if v != "false" {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter SqsManagedSseEnabled.")
			}
		case AttrFifo:
			if !create {
				return invalid(InvalidAttributeName, "Invalid attribute name: FifoQueue can be set only when the queue is created.")
			}
			if v != "true" && v != "false" {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter FifoQueue.")
			}
		case AttrKmsKey, AttrKmsReuse:
			return invalid(InvalidAttributeValue, "Invalid value for the parameter %s: there is no key management service here, so queues cannot be encrypted with a KMS key.", name)
		case AttrContentDedup, AttrDedupScope, AttrThroughput:
			if !fifo {
				return invalid(InvalidAttributeName, "You can specify the %s only when FifoQueue is set to true.", name)
			}
			ok := map[string][]string{AttrContentDedup: {"true", "false"}, AttrDedupScope: {"queue", "messageGroup"},
				AttrThroughput: {"perQueue", "perMessageGroupId"}}[name]
			if !slices.Contains(ok, v) {
				return invalid(InvalidAttributeValue, "Invalid value for the parameter %s.", name)
			}
		default:
			return invalid(InvalidAttributeName, "Unknown Attribute %s.", name)
		}
	}
	return nil
}

// RedriveAllowPolicy is a queue's RedriveAllowPolicy attribute: which
// source queues may use it as their dead-letter queue.
type RedriveAllowPolicy struct {
	Permission   string   `json:"redrivePermission"`
	SourceQueues []string `json:"sourceQueueArns,omitempty"`
}

func parseRedriveAllow(s string) (*RedriveAllowPolicy, *Error) {
	var p RedriveAllowPolicy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can't deserialize the JSON.")
	}
	switch p.Permission {
	case "allowAll", "denyAll":
		if len(p.SourceQueues) > 0 {
			return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter RedriveAllowPolicy. Reason: sourceQueueArns is allowed only when redrivePermission is byQueue.")
		}
	case "byQueue":
		if len(p.SourceQueues) == 0 || len(p.SourceQueues) > 10 {
			return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter RedriveAllowPolicy. Reason: byQueue needs 1 to 10 sourceQueueArns.")
		}
	default:
		return nil, invalid(InvalidAttributeValue, "Invalid value for the parameter RedriveAllowPolicy. Reason: redrivePermission must be allowAll, denyAll or byQueue.")
	}
	return &p, nil
}

// seconds reads an integer attribute of a queue's (a default when absent).
func (r *record) seconds(name string) int {
	if v, ok := r.Attrs[name]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return intAttrs[name].def
}

func (r *record) duration(name string) time.Duration {
	return time.Duration(r.seconds(name)) * time.Second
}
