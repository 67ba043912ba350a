package function

import "strings"

// EventInvokeConfig is how asynchronous invocations of a function are
// retried and where their results go (FunctionEventInvokeConfig).
type EventInvokeConfig struct {
	FunctionArn              string             `json:"FunctionArn"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	LastModified             float64            `json:"LastModified"` // epoch seconds
	DestinationConfig        *DestinationConfig `json:"DestinationConfig,omitempty"`
}

// DestinationConfig names where successes and failures are sent.
type DestinationConfig struct {
	OnSuccess *Destination `json:"OnSuccess,omitempty"`
	OnFailure *Destination `json:"OnFailure,omitempty"`
}

// Destination is one target ARN.
type Destination struct {
	Destination string `json:"Destination,omitempty"`
}

// Lambda's defaults and bounds for asynchronous invocation.
const (
	DefaultRetryAttempts = 2
	MaxRetryAttempts     = 2
	DefaultEventAge      = 21600
	MinEventAge          = 60
	MaxEventAge          = 21600
)

// Retries returns the configured retry count, or the default.
func (c *EventInvokeConfig) Retries() int {
	if c == nil || c.MaximumRetryAttempts == nil {
		return DefaultRetryAttempts
	}
	return *c.MaximumRetryAttempts
}

// MaxAge returns the configured maximum event age in seconds, or the default.
func (c *EventInvokeConfig) MaxAge() int {
	if c == nil || c.MaximumEventAgeInSeconds == nil {
		return DefaultEventAge
	}
	return *c.MaximumEventAgeInSeconds
}

// OnSuccess returns the success destination ARN, or "".
func (c *EventInvokeConfig) OnSuccess() string {
	if c == nil || c.DestinationConfig == nil || c.DestinationConfig.OnSuccess == nil {
		return ""
	}
	return c.DestinationConfig.OnSuccess.Destination
}

// OnFailure returns the failure destination ARN, or "".
func (c *EventInvokeConfig) OnFailure() string {
	if c == nil || c.DestinationConfig == nil || c.DestinationConfig.OnFailure == nil {
		return ""
	}
	return c.DestinationConfig.OnFailure.Destination
}

// Validate checks the bounds Lambda enforces and that destinations are
// functions, queues or topics, the kinds this server delivers to.
func (c *EventInvokeConfig) Validate() error {
	if r := c.MaximumRetryAttempts; r != nil && (*r < 0 || *r > MaxRetryAttempts) {
		return Validation(*r, "maximumRetryAttempts", "Member must have value less than or equal to 2")
	}
	if a := c.MaximumEventAgeInSeconds; a != nil && (*a < MinEventAge || *a > MaxEventAge) {
		return Validation(*a, "maximumEventAgeInSeconds", "Member must have value between 60 and 21600")
	}
	for _, d := range []string{c.OnSuccess(), c.OnFailure()} {
		if d == "" {
			continue
		}
		if !ValidTarget(d) {
			return InvalidParameter("The destination ARN %s is not supported by this server; use the ARN of a function, an SQS queue or an SNS topic.", d)
		}
	}
	return nil
}

// ValidTarget reports whether arn names a kind of destination this server
// delivers asynchronous results and dead letters to: a function, a
// standard SQS queue or a standard SNS topic, as Lambda does.
func ValidTarget(arn string) bool {
	if strings.HasPrefix(arn, "arn:aws:lambda:") {
		_, _, ok := ParseRef(arn)
		return ok
	}
	parts := strings.Split(arn, ":")
	return len(parts) == 6 && (parts[2] == "sqs" || parts[2] == "sns") && parts[5] != "" && !strings.HasSuffix(parts[5], ".fifo")
}
