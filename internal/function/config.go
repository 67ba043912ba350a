package function

import "net/netip"

// Config is a function's configuration as the Lambda API renders it
// (FunctionConfiguration). Field names are the wire names.
type Config struct {
	FunctionName     string            `json:"FunctionName"`
	FunctionArn      string            `json:"FunctionArn"`
	Runtime          string            `json:"Runtime,omitempty"`
	Role             string            `json:"Role"`
	Handler          string            `json:"Handler,omitempty"`
	CodeSize         int64             `json:"CodeSize"`
	Description      string            `json:"Description"`
	Timeout          int               `json:"Timeout"`
	MemorySize       int               `json:"MemorySize"`
	LastModified     string            `json:"LastModified"`
	CodeSha256       string            `json:"CodeSha256"`
	Version          string            `json:"Version"`
	Environment      *Environment      `json:"Environment,omitempty"`
	TracingConfig    TracingConfig     `json:"TracingConfig"`
	RevisionID       string            `json:"RevisionId"`
	State            string            `json:"State"`
	StateReason      string            `json:"StateReason,omitempty"`
	StateReasonCode  string            `json:"StateReasonCode,omitempty"`
	LastUpdateStatus string            `json:"LastUpdateStatus"`
	PackageType      string            `json:"PackageType"`
	Architectures    []string          `json:"Architectures"`
	EphemeralStorage EphemeralStorage  `json:"EphemeralStorage"`
	SnapStart        SnapStart         `json:"SnapStart"`
	LoggingConfig    LoggingConfig     `json:"LoggingConfig"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
	Layers           []Layer           `json:"Layers,omitempty"`

	// Network is NetworkNone when the function's instances get no network
	// but the Runtime API, else "". It is not part of Lambda's
	// configuration: the registry derives it from the function's tags.
	Network string `json:"-"`
	// PoolKey names the instances of this configuration: the function's
	// name for $LATEST, name:N for version N. Derived by the registry
	// with Network, so that the invoke path builds no string for it.
	PoolKey string `json:"-"`
	// AllowNet lists the private or link-local IPv4 ranges the function's
	// instances may reach besides the server's allow-list, from the tag
	// AllowNetTag; likewise derived.
	AllowNet []netip.Prefix `json:"-"`
}

// DeadLetterConfig names where asynchronous events that failed every
// attempt are sent, as they were received.
type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// Environment holds a function's environment variables.
type Environment struct {
	Variables map[string]string `json:"Variables"`
}

// TracingConfig is the function's X-Ray mode, TracingActive or
// TracingPassThrough (the default).
type TracingConfig struct {
	Mode string `json:"Mode"`
}

// The tracing modes. An invocation whose request carried a sampling
// decision (Sampled=1 or Sampled=0) keeps it in either mode; one that
// carried none is sampled by X-Ray's default rule under Active, and not
// at all under PassThrough.
const (
	TracingActive      = "Active"
	TracingPassThrough = "PassThrough"
)

// EphemeralStorage is the size of /tmp in MB.
type EphemeralStorage struct {
	Size int `json:"Size"`
}

// SnapStart is reported as off.
type SnapStart struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

// LoggingConfig names the log group and format.
type LoggingConfig struct {
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}
